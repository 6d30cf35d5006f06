// Properties of the cache key (SPEC §4 Cache), over generated queries, paths and callers:
// one user's entry is never another's, a different request never shares an entry, and the
// spellings that mean the same request (query order, a trailing slash) always do.
// test/cache/CacheRules.test.ts has the worked examples; these are the laws behind them.
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { anonymousIdentity, baseKey, cacheKey, type CacheRule, sortedQuery } from "../../src/domain/CacheRules.js"
import { isRefusal, parseTarget } from "../../src/domain/RequestPath.js"
import { identityFor } from "../../src/http/CacheStage.js"

const chars = (alphabet: string, minLength: number, maxLength: number) =>
  fc.array(fc.constantFrom(...alphabet.split("")), { minLength, maxLength }).map((cs) => cs.join(""))

// what a raw query may hold, '&' and '=' aside (they frame the pairs)
const queryAlphabet = "abcxyzABZ0189-_.~%+,;:@/!$'()*?"
const name = chars(queryAlphabet, 1, 5)
const value = chars(`${queryAlphabet}=`, 0, 5)
const pair = fc.tuple(name, value)
const pairs = fc.array(pair, { maxLength: 8 })

/** A bare `k` and `k=` are one pair: the value is empty either way. */
const spell = ([k, v]: readonly [string, string], bare: boolean): string => (v === "" && bare ? k : `${k}=${v}`)

/** A query spelling `ps` in the given order, bare names where the value is empty and `bare` says so, stray `&`s where `gaps` says. */
const queryOf = (ps: ReadonlyArray<readonly [string, string]>, bare: ReadonlyArray<boolean> = [], gaps: ReadonlyArray<boolean> = []): string =>
  ps.map((p, i) => `${gaps[i] === true ? "&" : ""}${spell(p, bare[i] === true)}`).join("&")

/** The multiset a query means, canonically ordered. */
const meaning = (ps: ReadonlyArray<readonly [string, string]>): string =>
  JSON.stringify([...ps].map(([k, v]) => [k, v]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : a[1]! < b[1]! ? -1 : a[1]! > b[1]! ? 1 : 0)))

/** Pairs with a permutation of them and the spelling choices for both. */
const permuted = pairs.chain((ps) =>
  fc.tuple(
    fc.constant(ps),
    fc.shuffledSubarray(ps, { minLength: ps.length, maxLength: ps.length }),
    fc.array(fc.boolean(), { minLength: ps.length, maxLength: ps.length }),
    fc.array(fc.boolean(), { minLength: ps.length, maxLength: ps.length })
  ))

/** Pairs and a change of them that changes what they mean (or, for `same`, keeps it). */
const changed = pairs.chain((ps) => {
  const options: Array<fc.Arbitrary<ReadonlyArray<readonly [string, string]>>> = [
    pair.map((p) => [...ps, p]), // one more pair, even a repeat of one there
    ...(ps.length === 0 ? [] : [
      fc.nat(ps.length - 1).map((i) => ps.filter((_, j) => j !== i)), // one pair fewer
      fc.tuple(fc.nat(ps.length - 1), value).map(([i, v]) => ps.map((p, j) => (j === i ? [p[0], v] as const : p))), // one value changed
      fc.tuple(fc.nat(ps.length - 1), name).map(([i, k]) => ps.map((p, j) => (j === i ? [k, p[1]] as const : p))) // one name changed
    ])
  ]
  return fc.tuple(fc.constant(ps), fc.oneof(...options))
})

const segment = chars("abcxyz0189-_~", 1, 6)
const path = fc.array(segment, { minLength: 1, maxLength: 5 }).map((segs) => `/${segs.join("/")}`)

// who a caller is, as CacheStage derives it: never a control character (a user id or key
// name from a signed token or the config; a hash of header values)
const printable = fc.string({ minLength: 1, maxLength: 12 })
const identity = fc.oneof(
  fc.constant("anon"),
  printable.map((u) => `u:${u}`),
  printable.map((k) => `k:${k}`),
  fc.hexaString({ minLength: 32, maxLength: 32 }).map((h) => `h:${h}`)
)

const rule = (shared: boolean): CacheRule => ({ prefix: "/api/v1/market-data", ttlMs: 60_000, shared })
const keyOf = (r: CacheRule, p: string, q: string, id: string, vary: ReadonlyArray<readonly [string, string]> = []) =>
  cacheKey(r, baseKey({ rule: r, path: p, query: q, identity: id }), vary)

const runs = { numRuns: 1_000 }

describe("CacheKeyProperties", () => {
  describe("sortedQuery", () => {
    it("is idempotent for any string", () => {
      fc.assert(fc.property(fc.string(), (q) => sortedQuery(sortedQuery(q)) === sortedQuery(q)), runs)
      fc.assert(fc.property(fc.fullUnicodeString(), (q) => sortedQuery(sortedQuery(q)) === sortedQuery(q)), runs)
      fc.assert(fc.property(pairs, (ps) => sortedQuery(sortedQuery(queryOf(ps))) === sortedQuery(queryOf(ps))), runs)
    })

    it("does not depend on the order of the pairs, bare names or stray separators", () => {
      fc.assert(
        fc.property(permuted, ([ps, shuffled, bare, gaps]) => {
          assert.strictEqual(sortedQuery(queryOf(shuffled, bare, gaps)), sortedQuery(queryOf(ps)))
        }),
        runs
      )
    })

    it("keeps every pair, repeats included: it is a sorted spelling of the same multiset", () => {
      fc.assert(
        fc.property(pairs, (ps) => {
          const sorted = sortedQuery(queryOf(ps))
          const back = sorted === "" ? [] : sorted.split("&").map((p) => {
            const i = p.indexOf("=")
            return [p.slice(0, i), p.slice(i + 1)] as const
          })
          assert.strictEqual(meaning(back), meaning(ps))
        }),
        runs
      )
    })

    it("tells apart queries that mean different things", () => {
      fc.assert(
        fc.property(changed, ([before, after]) => {
          const same = meaning(before) === meaning(after)
          assert.strictEqual(sortedQuery(queryOf(before)) === sortedQuery(queryOf(after)), same)
        }),
        runs
      )
    })
  })

  describe("cacheKey", () => {
    it("hashes the JSON of [method, path, sorted query, identity], for any strings (the keys a shared Redis already holds stay valid)", () => {
      const any = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("", "\"", "\\", "\u0000", "\ud800", "😀"))
      fc.assert(
        fc.property(any, any, any, fc.boolean(), (p, q, id, shared) => {
          const r = rule(shared)
          assert.strictEqual(baseKey({ rule: r, path: p, query: q, identity: id }), JSON.stringify(["GET", p, sortedQuery(q), shared ? "" : id]))
        }),
        { numRuns: 2_000 }
      )
    })

    it("is gw:cache:v1:<prefix>:<sha256> and the same for the same request", () => {
      fc.assert(
        fc.property(path, pairs, identity, fc.boolean(), (p, ps, id, shared) => {
          const key = keyOf(rule(shared), p, queryOf(ps), id)
          assert.match(key, /^gw:cache:v1:\/api\/v1\/market-data:[0-9a-f]{64}$/)
          assert.strictEqual(keyOf(rule(shared), p, queryOf(ps), id), key)
        }),
        runs
      )
    })

    it("changes with the identity under a per-caller rule, and ignores it under a shared one", () => {
      fc.assert(
        fc.property(path, pairs, identity, identity, (p, ps, a, b) => {
          fc.pre(a !== b)
          assert.notStrictEqual(keyOf(rule(false), p, queryOf(ps), a), keyOf(rule(false), p, queryOf(ps), b), `${a} vs ${b}`)
          assert.strictEqual(keyOf(rule(true), p, queryOf(ps), a), keyOf(rule(true), p, queryOf(ps), b))
        }),
        runs
      )
    })

    it("changes with the path, per caller or shared", () => {
      fc.assert(
        fc.property(path, path, pairs, identity, fc.boolean(), (p1, p2, ps, id, shared) => {
          fc.pre(p1 !== p2)
          assert.notStrictEqual(keyOf(rule(shared), p1, queryOf(ps), id), keyOf(rule(shared), p2, queryOf(ps), id))
        }),
        runs
      )
    })

    it("changes with what the query means, and not with how it is spelled", () => {
      fc.assert(
        fc.property(changed, path, identity, fc.boolean(), ([before, after], p, id, shared) => {
          const same = meaning(before) === meaning(after)
          assert.strictEqual(keyOf(rule(shared), p, queryOf(before), id) === keyOf(rule(shared), p, queryOf(after), id), same)
        }),
        runs
      )
      fc.assert(
        fc.property(permuted, path, identity, ([ps, shuffled, bare, gaps], p, id) => {
          assert.strictEqual(keyOf(rule(false), p, queryOf(shuffled, bare, gaps), id), keyOf(rule(false), p, queryOf(ps), id))
        }),
        runs
      )
    })

    it("never mixes up the parts: equal keys only for equal path, query meaning and identity", () => {
      // tuples drawn from small pools, so that equal and nearly equal parts meet often
      const pool = <A>(arb: fc.Arbitrary<A>) => fc.array(arb, { minLength: 1, maxLength: 3 }).chain((xs) => fc.constantFrom(...xs))
      const parts = fc.tuple(pool(path), pool(pairs), pool(identity))
      fc.assert(
        fc.property(fc.array(parts, { minLength: 2, maxLength: 6 }), (tuples) => {
          for (const [p1, q1, i1] of tuples) {
            for (const [p2, q2, i2] of tuples) {
              const equalParts = p1 === p2 && meaning(q1) === meaning(q2) && i1 === i2
              assert.strictEqual(keyOf(rule(false), p1, queryOf(q1), i1) === keyOf(rule(false), p2, queryOf(q2), i2), equalParts)
            }
          }
        }),
        { numRuns: 300 }
      )
    })

    it("changes with each value of the headers the response varies on", () => {
      const varyValue = fc.string({ maxLength: 8 })
      fc.assert(
        fc.property(path, identity, varyValue, varyValue, varyValue, (p, id, lang, other, enc) => {
          fc.pre(lang !== other)
          const r = rule(false)
          const k = (l: string) => keyOf(r, p, "", id, [["accept-encoding", enc], ["accept-language", l]])
          assert.notStrictEqual(k(lang), k(other))
          assert.strictEqual(k(lang), keyOf(r, p, "", id, [["accept-encoding", enc], ["accept-language", lang]]))
          assert.notStrictEqual(k(lang), keyOf(r, p, "", id), "a key learned with Vary differs from the plain one")
        }),
        runs
      )
    })

    it("is the same for the spellings the router treats as one route: trailing slash and query order", () => {
      fc.assert(
        fc.property(path, permuted, identity, (p, [ps, shuffled], id) => {
          const a = parseTarget(`${p}?${queryOf(ps)}`)
          const b = parseTarget(`${p}/?${queryOf(shuffled)}`)
          if (isRefusal(a) || isRefusal(b)) return assert.fail(`refused: ${String(a)} ${String(b)}`)
          const r = rule(false)
          assert.strictEqual(keyOf(r, b.normalized, b.query, id), keyOf(r, a.normalized, a.query, id))
          const deeper = parseTarget(`${p}/x?${queryOf(ps)}`)
          if (isRefusal(deeper)) return assert.fail(deeper)
          assert.notStrictEqual(keyOf(r, deeper.normalized, deeper.query, id), keyOf(r, a.normalized, a.query, id))
        }),
        runs
      )
    })
  })

  describe("identity", () => {
    // header values hold no line breaks; an empty header is treated as absent
    const header = fc.option(printable, { nil: undefined })

    it("is anon exactly without credentials, and tells every pair of credential headers apart", () => {
      fc.assert(
        fc.property(header, header, header, header, (a1, k1, a2, k2) => {
          const i1 = anonymousIdentity(a1, k1)
          assert.strictEqual(i1 === "anon", a1 === undefined && k1 === undefined)
          if (i1 !== "anon") assert.match(i1, /^h:[0-9a-f]{32}$/)
          if (a1 !== a2 || k1 !== k2) assert.notStrictEqual(i1, anonymousIdentity(a2, k2))
          for (const secret of [a1, k1]) if (secret !== undefined && secret.length > 6) assert.notInclude(i1, secret)
        }),
        runs
      )
    })

    it("keeps JWT users, API keys and anonymous callers in separate namespaces", () => {
      fc.assert(
        fc.property(printable, header, header, (caller, a, k) => {
          const jwt = identityFor({ type: "jwt", user: caller, caller, role: "viewer" }, {})
          const key = identityFor({ type: "api_key", user: `key:${caller}`, caller, role: "viewer" }, {})
          const anonymous = anonymousIdentity(a, k)
          assert.notStrictEqual(jwt, key)
          assert.notStrictEqual(jwt, anonymous)
          assert.notStrictEqual(key, anonymous)
          // whatever headers carried them
          const headers = { ...(a === undefined ? {} : { authorization: a }), ...(k === undefined ? {} : { "x-api-key": k }) }
          assert.strictEqual(identityFor({ type: "jwt", user: caller, caller, role: "admin" }, headers), jwt)
          assert.strictEqual(identityFor(undefined, headers), anonymous)
        }),
        runs
      )
    })
  })
})
