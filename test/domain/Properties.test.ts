import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import { checkConfig, decodeDocument, loadConfigText } from "../../src/domain/ConfigDocument.js"
import { isRefusal, parseTarget, type RequestPath } from "../../src/domain/RequestPath.js"
import { apiRoutes } from "../../src/domain/RouteTable.js"
import { makeRouter } from "../../src/domain/Router.js"

const refusals = ["not-origin-form", "forbidden-character", "empty-segment", "dot-segment", "encoded-separator", "bad-encoding"]

const accepted = (target: string): RequestPath | undefined => {
  const p = parseTarget(target)
  return isRefusal(p) ? undefined : p
}

/** The path part of `raw` without the one tolerated trailing slash, split like a backend would. */
const rawSegments = (raw: string): Array<string> =>
  (raw.length > 1 && raw.endsWith("/") ? raw.slice(1, -1) : raw.slice(1)).split("/")

// Pieces that make awkward paths: dot segments, encoded separators, broken escapes, controls.
const piece = fc.constantFrom(
  "/", "//", "..", ".", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%", "%2", "a", "b", "\\", "%00", "%0a", "%7f", "%20",
  "%25", "%C3", "%A9", "%C3%A9", "%E0%A4%A", "?", "#", ";", "é", "\u0000", " ", "api", "v1", "orders", "risk", "limits"
)
const pieceTarget = fc.tuple(fc.boolean(), fc.array(piece, { maxLength: 12 })).map(([lead, ps]) => (lead ? "/" : "") + ps.join(""))

// Segments that survive a second parse: unreserved characters, some percent-encoded.
const safeChar = fc.oneof(
  fc.constantFrom(..."abcXYZ019-_~.".split("")),
  fc.constantFrom("%41", "%61", "%7E", "%5F", "%2D", "%30")
)
const safeSegment = fc.array(safeChar, { minLength: 1, maxLength: 6 }).map((cs) => cs.join(""))
const safeTarget = fc
  .tuple(fc.array(safeSegment, { maxLength: 6 }), fc.boolean(), fc.option(fc.string({ maxLength: 8 }).filter((s) => !s.includes("#")), { nil: undefined }))
  .map(([segs, slash, query]) => `/${segs.join("/")}${slash && segs.length > 0 ? "/" : ""}${query === undefined ? "" : `?${query}`}`)

const reSafeSegment = /^[A-Za-z0-9._~!$&'()*+,;=:@-]+$/

describe("Properties", () => {
  describe("parseTarget", () => {
    const wellFormed = (target: string): boolean => {
      const p = parseTarget(target)
      if (typeof p === "string") return refusals.includes(p)
      // the query never stays in the path; a "?" in normalized is a decoded %3F, part of a segment
      return p.normalized === `/${p.segments.join("/")}` && p.normalized.startsWith("/") && !p.raw.includes("?")
    }

    it("never throws and always answers a path or a known refusal, for any string", () => {
      fc.assert(fc.property(fc.string(), wellFormed), { numRuns: 2000 })
      fc.assert(fc.property(fc.fullUnicodeString(), wellFormed), { numRuns: 2000 })
      fc.assert(fc.property(fc.string().map((s) => `/${s}`), wellFormed), { numRuns: 2000 })
    })

    it("never throws for strings built from path-ish pieces", () => {
      fc.assert(fc.property(pieceTarget, wellFormed), { numRuns: 5000 })
    })

    it("is idempotent: the normalized path parses to itself", () => {
      fc.assert(
        fc.property(safeTarget, (target) => {
          const p = accepted(target)
          if (p === undefined) return
          const again = accepted(p.normalized)
          assert.isDefined(again, `${p.normalized} (from ${target}) was refused`)
          assert.strictEqual(again!.normalized, p.normalized)
          assert.deepStrictEqual(again!.segments, p.segments)
        }),
        { numRuns: 3000 }
      )
    })

    it("is idempotent for any accepted target whose decoded segments need no re-encoding", () => {
      fc.assert(
        fc.property(fc.oneof(pieceTarget, safeTarget, fc.string().map((s) => `/${s}`)), (target) => {
          const p = accepted(target)
          if (p === undefined || !p.segments.every((s) => reSafeSegment.test(s))) return
          assert.strictEqual(accepted(p.normalized)?.normalized, p.normalized, target)
        }),
        { numRuns: 5000 }
      )
    })

    it("accepts no raw path with a dot segment, an empty segment or an encoded separator", () => {
      fc.assert(
        fc.property(pieceTarget, (target) => {
          const p = accepted(target)
          if (p === undefined || p.raw === "/") return
          const raws = rawSegments(p.raw)
          assert.isFalse(raws.some((s) => s === "" || s === "." || s === ".."), `${target} accepted`)
          assert.notMatch(p.raw, /%(2f|5c|2e)/i, `${target} accepted`)
          for (const s of p.segments) {
            assert.isFalse(s === "" || s === "." || s === ".." || s.includes("/") || s.includes("\\"), `${target} -> ${JSON.stringify(s)}`)
            // eslint-disable-next-line no-control-regex
            assert.notMatch(s, /[\u0000-\u001f\u007f]/, `${target} -> ${JSON.stringify(s)}`)
          }
          assert.strictEqual(raws.length, p.segments.length)
        }),
        { numRuns: 5000 }
      )
    })
  })

  describe("router over parsed paths", () => {
    const router = makeRouter(apiRoutes)
    const adminPaths = ["/api/v1/strategies", "/api/v1/strategies/7", "/api/v1/risk/limits", "/api/v1/risk/emergency-stop", "/api/v1/config/max_leverage"]

    const encodeOne = (segment: string, at: number, upper: boolean): string => {
      if (segment.length === 0) return segment
      const i = at % segment.length
      const hex = segment.charCodeAt(i).toString(16).padStart(2, "0")
      return `${segment.slice(0, i)}%${upper ? hex.toUpperCase() : hex}${segment.slice(i + 1)}`
    }
    const mutation = fc.record({
      kind: fc.constantFrom("replace", "insert", "encode", "none"),
      index: fc.nat(),
      piece: fc.oneof(piece, fc.constantFrom("strategies", "7", "start", "config", "emergency-stop", "..%2f", "%2e%2e", "")),
      upper: fc.boolean()
    })
    const spelling = fc
      .tuple(fc.constantFrom(...adminPaths), fc.array(mutation, { maxLength: 3 }), fc.boolean(), fc.constantFrom("", "?a=1", "?x=/../"))
      .map(([path, muts, slash, query]) => {
        const segs = path.slice(1).split("/")
        for (const m of muts) {
          const i = m.index % (segs.length + 1)
          if (m.kind === "replace" && i < segs.length) segs[i] = m.piece
          else if (m.kind === "insert") segs.splice(i, 0, m.piece)
          else if (m.kind === "encode" && i < segs.length) segs[i] = encodeOne(segs[i]!, m.index, m.upper)
        }
        return `/${segs.join("/")}${slash ? "/" : ""}${query}`
      })
    const target = fc.oneof(spelling, pieceTarget)

    it("reaches an admin-only route only through its template with parameters substituted", () => {
      let adminHits = 0
      fc.assert(
        fc.property(target, fc.constantFrom("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"), (t, method) => {
          const p = accepted(t)
          if (p === undefined) return
          const m = router.match(method, p.segments)
          if (m._tag !== "Found") return
          if (m.route.role === "admin") adminHits++
          const template = m.route.template.slice(1).split("/")
          assert.strictEqual(p.segments.length, template.length, t)
          const substituted = `/${template.map((s, i) => (s.startsWith(":") ? p.segments[i]! : s)).join("/")}`
          assert.strictEqual(p.normalized, substituted, `${method} ${t}`)
          // the backend gets the raw path: it must have the same segments, each decoding to the matched one
          const raws = rawSegments(p.raw)
          assert.strictEqual(raws.length, template.length, t)
          raws.forEach((raw, i) => assert.strictEqual(decodeURIComponent(raw), p.segments[i], t))
          template.forEach((s, i) => {
            if (!s.startsWith(":")) return
            const value = p.segments[i]!
            assert.isFalse(value === "" || value === "." || value === ".." || /[/\\]/.test(value), `${t}: parameter ${JSON.stringify(value)}`)
          })
        }),
        { numRuns: 5000 }
      )
      assert.isAbove(adminHits, 50, "the generator should reach admin-only routes")
    })
  })

  describe("decodeDocument", () => {
    const sections = ["server", "services", "auth", "rate_limit", "cors", "circuit_breaker", "retry", "cache", "health", "metrics", "logging", "features", "tls", "tracing", "websocket", "admin", "rate_limt"]
    const keys = ["port", "mode", "enabled", "burst", "global", "per_ip", "api_keys", "trusted_proxies", "timeout", "url", "market_data", "path", "rules", "endpoints", "store", "max_age", "jwt_secret", "x"]
    const value = fc.oneof(fc.jsonValue(), fc.anything())
    const shaped = fc.dictionary(
      fc.constantFrom(...sections),
      fc.oneof(value, fc.dictionary(fc.constantFrom(...keys), fc.oneof(value, fc.dictionary(fc.constantFrom(...keys), value))))
    )

    const holds = (doc: unknown): boolean => {
      const result = decodeDocument(doc)
      if (Either.isRight(result)) {
        const checked = checkConfig(result.right)
        return Array.isArray(checked.problems) && Array.isArray(checked.warnings)
      }
      return result.left.length > 0 && result.left.every((p) => typeof p === "string" && p.length > 0 && p.includes(": "))
    }

    it("never throws for any value, and refuses with a non-empty list of problems", () => {
      fc.assert(fc.property(fc.anything(), holds), { numRuns: 1000 })
      fc.assert(fc.property(fc.jsonValue(), holds), { numRuns: 1000 })
    })

    it("never throws for documents shaped like a config", () => {
      fc.assert(fc.property(shaped, holds), { numRuns: 500 })
    })

    it("reports one problem per bad key", () => {
      fc.assert(
        fc.property(fc.uniqueArray(fc.constantFrom("host", "mode", "read_timeout", "max_body_bytes", "workers", "trusted_proxies"), { minLength: 1 }), (bad) => {
          const result = decodeDocument({ server: Object.fromEntries(bad.map((k) => [k, { not: "valid" }])) })
          assert.isTrue(Either.isLeft(result))
          const problems = Either.isLeft(result) ? result.left : []
          assert.strictEqual(problems.length, bad.length, problems.join("\n"))
          for (const k of bad) assert.isTrue(problems.some((p) => p.startsWith(`server.${k}:`)), k)
        })
      )
    })
  })

  describe("loadConfigText", () => {
    it("never throws for any text", () => {
      const yamlish = fc.array(fc.constantFrom("server:", "\n", "  ", "port: ", "8000", "${X}", "${Y:-1}", "[", "]", "{", "}", "- ", "#", ": ", "\"", "'", "&a", "*a", "!!str ", "mode: test"), { maxLength: 20 }).map((ps) => ps.join(""))
      fc.assert(
        fc.property(fc.oneof(fc.string(), yamlish), (text) => {
          const result = loadConfigText(text, { X: "1" })
          return Either.isRight(result) || (result.left.length > 0 && result.left.every((p) => typeof p === "string" && p.length > 0))
        }),
        { numRuns: 1000 }
      )
    })
  })
})
