// SPEC §4 Cache, the pure part: which GETs a rule covers, which responses may be stored,
// and what goes into the key `gw:cache:v1:<rule prefix>:<sha256>`.
import { assert, describe, it } from "@effect/vitest"
import {
  anonymousIdentity, baseKey, cacheableResponse, cacheKey, type CacheRule, compileCacheRules, type KeyParts, ruleFor, sortedQuery
} from "../../src/domain/CacheRules.js"
import { identityFor } from "../../src/http/CacheStage.js"
import { baseDoc, decodeConfig, merge } from "../support/TestConfig.js"

const rulesOf = (cache: Record<string, unknown>) => compileCacheRules(decodeConfig(merge(baseDoc, { cache })))

const rules = rulesOf({
  default_ttl: "45s",
  rules: {
    "/api/v1/market-data": { ttl: "30s" },
    "/api/v1/market-data/ticker": { ttl: "5s" },
    "/api/v1/account/balance": {},
    "/api/v1/account/positions": { ttl: "10s", shared: true }
  }
})

const ruleNamed = (prefix: string): CacheRule => {
  const rule = rules.rules.get(prefix)
  assert.isDefined(rule, prefix)
  return rule!
}

const market = () => ruleNamed("/api/v1/market-data")
const positions = () => ruleNamed("/api/v1/account/positions")

const keyOf = (parts: Partial<KeyParts> = {}, vary: ReadonlyArray<readonly [string, string]> = []) => {
  const p: KeyParts = { rule: market(), path: "/api/v1/market-data/symbols", query: "", identity: "anon", ...parts }
  return cacheKey(p.rule, baseKey(p), vary)
}

describe("CacheRules", () => {
  describe("ruleFor", () => {
    it("covers GET only: HEAD, POST, PUT and DELETE on a rule's path get no rule", () => {
      assert.strictEqual(ruleFor(rules, "GET", "/api/v1/market-data/symbols")?.prefix, "/api/v1/market-data")
      for (const method of ["HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"]) {
        assert.isUndefined(ruleFor(rules, method, "/api/v1/market-data/symbols"), method)
      }
    })

    it("picks the longest prefix, on a segment boundary only", () => {
      assert.strictEqual(ruleFor(rules, "GET", "/api/v1/market-data/ticker/BTC")?.prefix, "/api/v1/market-data/ticker")
      assert.strictEqual(ruleFor(rules, "GET", "/api/v1/market-data/ticker")?.prefix, "/api/v1/market-data/ticker")
      assert.strictEqual(ruleFor(rules, "GET", "/api/v1/market-data/tickers")?.prefix, "/api/v1/market-data", "not /ticker: no boundary")
      assert.strictEqual(ruleFor(rules, "GET", "/api/v1/market-data")?.prefix, "/api/v1/market-data")
      assert.isUndefined(ruleFor(rules, "GET", "/api/v1/market-database"), "a prefix of a segment is no match")
      assert.isUndefined(ruleFor(rules, "GET", "/api/v1/account/balances"))
      assert.isUndefined(ruleFor(rules, "GET", "/api/v1/orders"), "no rule: not cached (SPEC §4 change)")
    })

    it("takes the rule's ttl, else default_ttl, and shared defaults to false", () => {
      assert.strictEqual(ruleNamed("/api/v1/market-data/ticker").ttlMs, 5_000)
      assert.strictEqual(ruleNamed("/api/v1/account/balance").ttlMs, 45_000)
      assert.isFalse(ruleNamed("/api/v1/account/balance").shared)
      assert.isTrue(positions().shared)
    })

    it("covers nothing when the cache is disabled or has no rules", () => {
      const disabled = rulesOf({ enabled: false, rules: { "/api/v1/market-data": { ttl: "30s" } } })
      assert.isUndefined(ruleFor(disabled, "GET", "/api/v1/market-data/symbols"))
      assert.isUndefined(ruleFor(rulesOf({}), "GET", "/api/v1/market-data/symbols"))
    })
  })

  describe("cacheableResponse", () => {
    const json = { "content-type": "application/json" }

    it("stores 200 only", () => {
      assert.isTrue(cacheableResponse(200, json))
      for (const status of [201, 203, 204, 206, 301, 304, 404, 500, 502, 503]) assert.isFalse(cacheableResponse(status, json), String(status))
    })

    it("refuses Cache-Control no-store and private, in any case and among other directives", () => {
      assert.isFalse(cacheableResponse(200, { ...json, "cache-control": "no-store" }))
      assert.isFalse(cacheableResponse(200, { ...json, "cache-control": "max-age=60, No-Store" }))
      assert.isFalse(cacheableResponse(200, { ...json, "cache-control": "private" }))
      assert.isFalse(cacheableResponse(200, { ...json, "cache-control": "PRIVATE, max-age=60" }))
      assert.isTrue(cacheableResponse(200, { ...json, "cache-control": "public, max-age=60" }))
    })

    it("refuses Set-Cookie, one or several", () => {
      assert.isFalse(cacheableResponse(200, { ...json, "set-cookie": "session=abc" }))
      assert.isFalse(cacheableResponse(200, { ...json, "set-cookie": ["a=1", "b=2"] }))
    })

    it("refuses Vary: *, alone or in a list, and accepts a Vary naming headers", () => {
      assert.isFalse(cacheableResponse(200, { ...json, vary: "*" }))
      assert.isFalse(cacheableResponse(200, { ...json, vary: "Accept-Language, *" }))
      assert.isTrue(cacheableResponse(200, { ...json, vary: "Accept-Language" }))
    })

    it("refuses a Content-Length over 1 MiB, accepts exactly 1 MiB and an unknown length", () => {
      assert.isFalse(cacheableResponse(200, { ...json, "content-length": "1048577" }))
      assert.isTrue(cacheableResponse(200, { ...json, "content-length": "1048576" }))
      assert.isTrue(cacheableResponse(200, json))
    })
  })

  describe("sortedQuery", () => {
    it("orders pairs by name, then by value", () => {
      assert.strictEqual(sortedQuery("b=2&a=1"), "a=1&b=2")
      assert.strictEqual(sortedQuery("a=2&a=1"), "a=1&a=2")
      assert.strictEqual(sortedQuery("side=sell&limit=10&side=buy"), "limit=10&side=buy&side=sell")
      assert.strictEqual(sortedQuery("ab=1&a=2"), "a=2&ab=1", "by name first: a < ab whatever the values")
      assert.strictEqual(sortedQuery(""), "")
    })

    it("is insensitive to order for every permutation of a query", () => {
      const canonical = sortedQuery("x=1&y=2&z=3")
      for (const q of ["y=2&x=1&z=3", "z=3&y=2&x=1", "x=1&z=3&y=2"]) assert.strictEqual(sortedQuery(q), canonical, q)
    })
  })

  describe("cacheKey", () => {
    it("is gw:cache:v1:<rule prefix>:<64 hex>", () => {
      assert.match(keyOf(), /^gw:cache:v1:\/api\/v1\/market-data:[0-9a-f]{64}$/)
      const p: KeyParts = { rule: positions(), path: "/api/v1/account/positions", query: "", identity: "k:alice" }
      assert.match(cacheKey(p.rule, baseKey(p), []), /^gw:cache:v1:\/api\/v1\/account\/positions:[0-9a-f]{64}$/)
    })

    it("is the same for the same request", () => {
      assert.strictEqual(keyOf({ query: "a=1" }, [["accept-language", "en"]]), keyOf({ query: "a=1" }, [["accept-language", "en"]]))
    })

    it("changes with the identity, the path, the sorted query and each vary value", () => {
      const base = keyOf({ query: "a=1&b=2", identity: "k:alice" }, [["accept-language", "en"]])
      assert.notStrictEqual(keyOf({ query: "a=1&b=2", identity: "k:bob" }, [["accept-language", "en"]]), base, "identity")
      assert.notStrictEqual(keyOf({ query: "a=1&b=2", identity: "u:alice" }, [["accept-language", "en"]]), base, "JWT user vs key name")
      assert.notStrictEqual(keyOf({ path: "/api/v1/market-data/ticker/BTC", query: "a=1&b=2", identity: "k:alice" }, [["accept-language", "en"]]), base, "path")
      assert.notStrictEqual(keyOf({ query: "a=1&b=3", identity: "k:alice" }, [["accept-language", "en"]]), base, "query")
      assert.notStrictEqual(keyOf({ query: "a=1&b=2", identity: "k:alice" }, [["accept-language", "fr"]]), base, "vary value")
      assert.notStrictEqual(keyOf({ query: "a=1&b=2", identity: "k:alice" }, []), base, "no vary")
    })

    it("does not change with the query's order", () => {
      assert.strictEqual(keyOf({ query: "b=2&a=1" }), keyOf({ query: "a=1&b=2" }))
    })

    it("leaves the identity out under a shared rule", () => {
      const shared = (identity: string) => keyOf({ rule: positions(), path: "/api/v1/account/positions", identity })
      assert.strictEqual(shared("k:alice"), shared("k:bob"))
      assert.strictEqual(shared("u:carol"), shared("anon"))
      assert.notStrictEqual(keyOf({ identity: "k:alice" }), keyOf({ identity: "k:bob" }), "per caller otherwise")
    })
  })

  describe("identity", () => {
    it("is `anon` without credentials, a hash of the credential headers otherwise", () => {
      assert.strictEqual(anonymousIdentity(undefined, undefined), "anon")
      const alice = anonymousIdentity("Bearer alice", undefined)
      assert.match(alice, /^h:[0-9a-f]+$/)
      assert.notInclude(alice, "alice", "never the credential itself")
      assert.strictEqual(anonymousIdentity("Bearer alice", undefined), alice)
      assert.notStrictEqual(anonymousIdentity("Bearer bob", undefined), alice)
      assert.notStrictEqual(anonymousIdentity(undefined, "Bearer alice"), alice, "the same text as an API key is another caller")
      assert.notStrictEqual(anonymousIdentity("Bearer alice", "k1"), anonymousIdentity("Bearer alice", "k2"))
    })

    it("is u:<user id> for a JWT, k:<name> for an API key, whatever headers carried them", () => {
      const jwt = { type: "jwt", user: "alice", caller: "alice", role: "viewer" } as const
      const key = { type: "api_key", user: "key:alice", caller: "alice", role: "viewer" } as const
      assert.strictEqual(identityFor(jwt, { authorization: "Bearer one" }), "u:alice")
      assert.strictEqual(identityFor(jwt, { authorization: "Bearer two" }), "u:alice")
      assert.strictEqual(identityFor(key, { "x-api-key": "key-alice-123456" }), "k:alice")
      assert.strictEqual(identityFor(undefined, {}), "anon")
    })
  })
})
