// SPEC §4 Cache through the real gateway (memory store, real time): MISS then HIT with
// Age, what the key is made of (sorted query, trailing slash, credentials with auth off,
// Vary), expiry, and the hit/miss counters labelled by rule prefix (§5).
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { cacheHandler, cacheServices, fetchPath, metric, serialOf, xCache } from "../support/CacheBackend.js"
import { backendNamed, gatewayWithBackends } from "../support/HttpBackend.js"
import { eventually, realTime } from "../support/HttpClient.js"
import { merge } from "../support/TestConfig.js"

const market = "/api/v1/market-data"

const gateway = gatewayWithBackends({ market: cacheHandler(), account: cacheHandler() }, (b) =>
  merge(cacheServices(b.market, b.account), {
    cache: {
      rules: {
        [market]: { ttl: "30s" },
        [`${market}/orderbook`]: { ttl: "1s" },
        [`${market}/trades`]: { ttl: "5s" }
      }
    }
  }))

const hitsOf = (path: string) => Effect.map(backendNamed("market"), (b) => b.hits(path))

describe("CacheHttp", () => {
  layer(gateway, realTime)((it) => {
    it.effect("a first GET is a MISS from the backend, the second a HIT with Age and the same body", () =>
      Effect.gen(function* () {
        const path = `${market}/symbols`
        const first = yield* fetchPath(path)
        assert.strictEqual(first.status, 200)
        assert.strictEqual(xCache(first), "MISS")
        assert.isNull(first.headers.get("age"), "a fresh response has no Age")
        const second = yield* fetchPath(path)
        assert.strictEqual(second.status, 200)
        assert.strictEqual(xCache(second), "HIT")
        assert.strictEqual(second.headers.get("age"), "0")
        assert.strictEqual(second.text, first.text, "the stored body")
        assert.strictEqual(second.headers.get("content-type"), first.headers.get("content-type"))
        assert.strictEqual(second.headers.get("cache-control"), first.headers.get("cache-control"), "the backend's headers kept")
        assert.strictEqual(second.headers.get("content-length"), String(Buffer.byteLength(second.text)))
        assert.strictEqual(yield* hitsOf(path), 1, "the backend saw one request")
      }))

    it.effect("a hit carries its own X-Request-ID, not the stored response's", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/RID`
        const first = yield* fetchPath(path, { "x-request-id": "first-request" })
        const second = yield* fetchPath(path, { "x-request-id": "second-request" })
        assert.strictEqual(xCache(second), "HIT")
        assert.strictEqual(first.headers.get("x-request-id"), "first-request")
        assert.strictEqual(second.headers.get("x-request-id"), "second-request")
      }))

    it.effect("Age counts the seconds since the entry was stored", () =>
      Effect.gen(function* () {
        const path = `${market}/trades/AGE`
        const first = yield* fetchPath(path)
        const aged = yield* eventually(
          Effect.flatMap(fetchPath(path), (r) => (r.headers.get("age") === "1" ? Effect.succeed(r) : Effect.dieMessage(`Age ${r.headers.get("age")}`))),
          { timeoutMs: 3_000, intervalMs: 100 }
        )
        assert.strictEqual(xCache(aged), "HIT")
        assert.strictEqual(serialOf(aged), serialOf(first))
        assert.strictEqual(yield* hitsOf(path), 1)
      }))

    it.effect("?b=2&a=1 is served from the entry of ?a=1&b=2", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/SORT`
        const first = yield* fetchPath(`${path}?a=1&b=2`)
        assert.strictEqual(xCache(first), "MISS")
        const swapped = yield* fetchPath(`${path}?b=2&a=1`)
        assert.strictEqual(xCache(swapped), "HIT")
        assert.strictEqual(serialOf(swapped), serialOf(first))
        const other = yield* fetchPath(`${path}?a=1&b=3`)
        assert.strictEqual(xCache(other), "MISS", "another value is another entry")
        assert.strictEqual(yield* hitsOf(path), 2)
      }))

    it.effect("/symbols/ shares the entry of /symbols", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/SLASH`
        const first = yield* fetchPath(path)
        assert.strictEqual(xCache(first), "MISS")
        const slashed = yield* fetchPath(`${path}/`)
        assert.strictEqual(slashed.status, 200)
        assert.strictEqual(xCache(slashed), "HIT")
        assert.strictEqual(serialOf(slashed), serialOf(first))
        const back = yield* fetchPath(`${path}/`)
        assert.strictEqual(xCache(back), "HIT")
        assert.strictEqual((yield* hitsOf(path)) + (yield* hitsOf(`${path}/`)), 1)
      }))

    it.effect("an entry of a 1s rule expires: a MISS again after about a second, not before", () =>
      Effect.gen(function* () {
        const path = `${market}/orderbook/EXP`
        const first = yield* fetchPath(path)
        assert.strictEqual(xCache(first), "MISS")
        const storedAt = performance.now()
        assert.strictEqual(xCache(yield* fetchPath(path)), "HIT")
        const again = yield* eventually(
          Effect.flatMap(fetchPath(path), (r) => (xCache(r) === "MISS" ? Effect.succeed(r) : Effect.dieMessage(`X-Cache ${xCache(r)}`))),
          { timeoutMs: 3_000, intervalMs: 50 }
        )
        assert.isAtLeast(performance.now() - storedAt, 900, "not expired before its ttl")
        assert.notStrictEqual(serialOf(again), serialOf(first), "a fresh response")
        assert.strictEqual(yield* hitsOf(path), 2)
      }))

    it.effect("counts hits and misses by rule prefix, never by raw path", () =>
      Effect.gen(function* () {
        const rule = `${market}/trades`
        const hits0 = yield* metric("api_gateway_cache_hits_total", { endpoint: rule })
        const misses0 = yield* metric("api_gateway_cache_misses_total", { endpoint: rule })
        for (let i = 0; i < 3; i++) yield* fetchPath(`${rule}/METRIC`)
        yield* fetchPath(`${rule}/METRIC2`)
        assert.strictEqual((yield* metric("api_gateway_cache_hits_total", { endpoint: rule })) - hits0, 2)
        assert.strictEqual((yield* metric("api_gateway_cache_misses_total", { endpoint: rule })) - misses0, 2)
        assert.strictEqual(yield* metric("api_gateway_cache_hits_total", { endpoint: `${rule}/METRIC` }), 0)
        assert.strictEqual(yield* metric("api_gateway_cache_misses_total", { endpoint: "/api/v1/market-data/trades/:symbol" }), 0)
      }))

    it.effect("a response with Vary: Accept-Language is stored per language", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/vary-lang`
        const lang = (value: string) => fetchPath(path, { "accept-language": value })
        const en = yield* lang("en")
        assert.strictEqual(xCache(en), "MISS")
        const fr = yield* lang("fr")
        assert.strictEqual(xCache(fr), "MISS", "fr is not served en's entry")
        assert.strictEqual(fr.json?.lang, "fr")
        const en2 = yield* lang("en")
        const fr2 = yield* lang("fr")
        assert.strictEqual(xCache(en2), "HIT")
        assert.strictEqual(en2.json?.lang, "en")
        assert.strictEqual(serialOf(en2), serialOf(en))
        assert.strictEqual(xCache(fr2), "HIT")
        assert.strictEqual(fr2.json?.lang, "fr")
        assert.strictEqual(serialOf(fr2), serialOf(fr))
        assert.strictEqual(xCache(yield* lang("de")), "MISS")
        assert.strictEqual(yield* hitsOf(path), 3)
      }))

    it.effect("auth disabled: each Authorization or X-API-Key value has its own entry", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/CREDS`
        const one = { authorization: "Bearer token-one" }
        const two = { authorization: "Bearer token-two" }
        assert.strictEqual(xCache(yield* fetchPath(path, one)), "MISS")
        assert.strictEqual(xCache(yield* fetchPath(path, two)), "MISS", "another Authorization, another entry")
        assert.strictEqual(xCache(yield* fetchPath(path, { "x-api-key": "token-one" })), "MISS")
        assert.strictEqual(xCache(yield* fetchPath(path)), "MISS", "no credentials: not anyone's entry")
        const again = yield* fetchPath(path, one)
        assert.strictEqual(xCache(again), "HIT")
        assert.strictEqual(xCache(yield* fetchPath(path, two)), "HIT")
        assert.strictEqual(yield* hitsOf(path), 4)
      }))

    it.effect("auth disabled: requests without credentials share one anon entry", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/ANON`
        const first = yield* fetchPath(path)
        assert.strictEqual(xCache(first), "MISS")
        for (let i = 0; i < 3; i++) {
          const next = yield* fetchPath(path, { "x-forwarded-for": `198.51.100.${i}` })
          assert.strictEqual(xCache(next), "HIT")
          assert.strictEqual(serialOf(next), serialOf(first))
        }
        assert.strictEqual(yield* hitsOf(path), 1)
      }))
  })
})
