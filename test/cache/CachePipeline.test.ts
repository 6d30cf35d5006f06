// SPEC §4 Cache within the pipeline: keys per caller unless the rule is shared (one user's
// balance is never served to another), hits pass authentication, authorization and rate
// limits, but not the circuit breaker or the backend.
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  alice, bob, cacheAuth, cacheHandler, cacheServices, carol, fetchPath, serialOf, xCache
} from "../support/CacheBackend.js"
import { backendNamed, gatewayWithBackends } from "../support/HttpBackend.js"
import { realTime } from "../support/HttpClient.js"
import { bearer, secretBytes, signToken } from "../support/AuthTokens.js"
import { merge } from "../support/TestConfig.js"

type Doc = Record<string, unknown>

const balance = "/api/v1/account/balance"
const positions = "/api/v1/account/positions"
const symbols = "/api/v1/market-data/symbols"

const gatewayWith = (over: Doc) =>
  gatewayWithBackends({ market: cacheHandler(), account: cacheHandler() }, (b) => merge(cacheServices(b.market, b.account), over))

const hitsOf = (backend: "market" | "account", path: string) => Effect.map(backendNamed(backend), (b) => b.hits(path))

const jwtFor = (user: string, iat: number) =>
  signToken({ user_id: user, role: "viewer" }, { key: secretBytes("x".repeat(40)), iat })

describe("CachePipeline", () => {
  describe("auth enabled", () => {
    layer(
      gatewayWith({
        auth: cacheAuth,
        cache: {
          rules: {
            [balance]: { ttl: "30s" },
            [positions]: { ttl: "30s", shared: true },
            "/api/v1/orders": { ttl: "30s", shared: true },
            "/api/v1/account/pnl": { ttl: "30s" }
          }
        }
      }),
      realTime
    )((it) => {
      it.effect("alice's balance is never served to bob: both MISS first, each then hits their own", () =>
        Effect.gen(function* () {
          const a1 = yield* fetchPath(balance, alice)
          assert.strictEqual(a1.status, 200)
          assert.strictEqual(xCache(a1), "MISS")
          assert.strictEqual(a1.json?.caller, "key:alice")
          const b1 = yield* fetchPath(balance, bob)
          assert.strictEqual(xCache(b1), "MISS", "bob is not served alice's entry")
          assert.strictEqual(b1.json?.caller, "key:bob")
          assert.strictEqual(yield* hitsOf("account", balance), 2, "the backend saw both")
          const a2 = yield* fetchPath(balance, alice)
          const b2 = yield* fetchPath(balance, bob)
          assert.strictEqual(xCache(a2), "HIT")
          assert.strictEqual(a2.json?.caller, "key:alice")
          assert.strictEqual(serialOf(a2), serialOf(a1))
          assert.strictEqual(xCache(b2), "HIT")
          assert.strictEqual(b2.json?.caller, "key:bob")
          assert.strictEqual(serialOf(b2), serialOf(b1))
          assert.strictEqual(yield* hitsOf("account", balance), 2)
        }))

      it.effect("a shared rule serves bob from alice's entry", () =>
        Effect.gen(function* () {
          const a = yield* fetchPath(positions, alice)
          assert.strictEqual(xCache(a), "MISS")
          const b = yield* fetchPath(positions, bob)
          assert.strictEqual(b.status, 200)
          assert.strictEqual(xCache(b), "HIT")
          assert.strictEqual(b.text, a.text)
          assert.strictEqual(yield* hitsOf("account", positions), 1)
        }))

      it.effect("a JWT's identity is its user id: two tokens of one user share, a key of the same name does not", () =>
        Effect.gen(function* () {
          const path = "/api/v1/account/pnl"
          const now = Math.floor(Date.now() / 1000)
          const first = yield* fetchPath(path, bearer(yield* jwtFor("dave", now)))
          assert.strictEqual(xCache(first), "MISS")
          const second = yield* fetchPath(path, bearer(yield* jwtFor("dave", now - 10)))
          assert.strictEqual(xCache(second), "HIT", "another token of the same user")
          assert.strictEqual(serialOf(second), serialOf(first))
          assert.strictEqual(xCache(yield* fetchPath(path, bearer(yield* jwtFor("alice", now)))), "MISS", "user alice")
          assert.strictEqual(xCache(yield* fetchPath(path, alice)), "MISS", "key alice is not JWT user alice")
          assert.strictEqual(yield* hitsOf("account", path), 3)
        }))

      it.effect("a stored entry is not served without credentials or with a bad key: 401", () =>
        Effect.gen(function* () {
          for (const path of [balance, positions]) {
            yield* fetchPath(path, alice)
            assert.strictEqual(xCache(yield* fetchPath(path, alice)), "HIT", path)
          }
          const before = (yield* hitsOf("account", balance)) + (yield* hitsOf("account", positions))
          for (const path of [balance, positions]) {
            const anonymous = yield* fetchPath(path)
            assert.strictEqual(anonymous.status, 401, path)
            assert.strictEqual(anonymous.json?.error, "Authentication required")
            assert.notStrictEqual(xCache(anonymous), "HIT")
            const wrong = yield* fetchPath(path, { "x-api-key": "key-mallory-99999" })
            assert.strictEqual(wrong.status, 401, path)
            assert.strictEqual(wrong.json?.error, "Invalid API key")
            assert.notStrictEqual(xCache(wrong), "HIT")
          }
          assert.strictEqual((yield* hitsOf("account", balance)) + (yield* hitsOf("account", positions)), before)
        }))

      it.effect("a shared entry is not served to a role below the route's: 403", () =>
        Effect.gen(function* () {
          const path = "/api/v1/orders"
          assert.strictEqual(xCache(yield* fetchPath(path, carol)), "MISS")
          assert.strictEqual(xCache(yield* fetchPath(path, carol)), "HIT")
          const viewer = yield* fetchPath(path, alice)
          assert.strictEqual(viewer.status, 403)
          assert.strictEqual(viewer.json?.error, "Insufficient permissions")
          assert.notStrictEqual(xCache(viewer), "HIT")
        }))
    })
  })

  describe("rate limits", () => {
    layer(
      gatewayWith({
        rate_limit: {
          enabled: true,
          global: { requests_per_second: 0.001, burst: 3 },
          per_ip: { requests_per_minute: 60_000, burst: 100_000 },
          exempt_paths: ["/metrics"]
        },
        cache: { rules: { "/api/v1/market-data": { ttl: "30s" } } }
      }),
      realTime
    )((it) => {
      it.effect("hits take tokens too: a cached path is refused with 429 once the global burst is spent", () =>
        Effect.gen(function* () {
          const first = yield* fetchPath(symbols)
          assert.strictEqual(xCache(first), "MISS")
          const hits = [yield* fetchPath(symbols), yield* fetchPath(symbols)]
          for (const hit of hits) assert.strictEqual(xCache(hit), "HIT")
          assert.deepStrictEqual(hits.map((h) => h.headers.get("x-ratelimit-remaining")), ["1", "0"], "hits carry the rate-limit headers")
          const refused = yield* fetchPath(symbols)
          assert.strictEqual(refused.status, 429)
          assert.strictEqual(refused.json?.error, "Global rate limit exceeded")
          assert.isNotNull(refused.headers.get("retry-after"))
          assert.notStrictEqual(xCache(refused), "HIT")
          assert.strictEqual(yield* hitsOf("market", symbols), 1)
        }))
    })
  })

  describe("circuit breaker", () => {
    layer(
      gatewayWith({
        circuit_breaker: { min_requests: 3, failure_ratio: 0.6, interval: "60s", timeout: "30s" },
        cache: { rules: { "/api/v1/market-data": { ttl: "30s" } } }
      }),
      realTime
    )((it) => {
      it.effect("with the breaker open a cached path still answers HIT while an uncached one gets 503", () =>
        Effect.gen(function* () {
          const stored = yield* fetchPath(symbols)
          assert.strictEqual(xCache(stored), "MISS")
          // one success and two failures of three requests: 0.67 ≥ 0.6 trips it
          for (let i = 0; i < 2; i++) assert.strictEqual((yield* fetchPath("/api/v1/market-data/ticker/error")).status, 500)
          const open = yield* fetchPath("/api/v1/market-data/ticker/error")
          assert.strictEqual(open.status, 503, "the breaker is open")
          assert.strictEqual(yield* hitsOf("market", "/api/v1/market-data/ticker/error"), 2)

          const hit = yield* fetchPath(symbols)
          assert.strictEqual(hit.status, 200)
          assert.strictEqual(xCache(hit), "HIT")
          assert.strictEqual(hit.text, stored.text)
          for (const path of ["/api/v1/market-data/ticker/UNCACHED", "/api/v1/market-data/orderbook/BTC"]) {
            const refused = yield* fetchPath(path)
            assert.strictEqual(refused.status, 503, path)
            assert.strictEqual(refused.json?.error, "Service temporarily unavailable")
            assert.isNotNull(refused.headers.get("retry-after"))
            assert.strictEqual(yield* hitsOf("market", path), 0, `${path} never reached the backend`)
          }
          assert.strictEqual(yield* hitsOf("market", symbols), 1)
          assert.strictEqual((yield* fetchPath(balance)).status, 200, "another service's breaker is closed")
        }))
    })
  })
})
