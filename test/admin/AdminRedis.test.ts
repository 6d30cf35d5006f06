// The admin views and purge over the Redis stores, against the real Redis on 127.0.0.1:6379
// (logical database 9, flushed when the layer starts): tokens are read from Redis, the cache
// reports Redis reachable, and a purge deletes the rule's keys there.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { CacheView, RateLimitView } from "../../src/services/AdminStats.js"
import { admin, adminDoc, asAdmin } from "../support/AdminGateway.js"
import { apiKeys } from "../support/AuthTokens.js"
import { realTime, send } from "../support/HttpClient.js"
import { gatewayAfter, json, type ProxyBackend, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { RedisProbe, redisProbeLayer } from "../support/RedisHarness.js"
import { gatewayUrl } from "../support/TestGateway.js"

const redisUrl = "redis://127.0.0.1:6379/9"
const rule = "/api/v1/market-data/ticker"

class Fixture extends Context.Tag("test/AdminRedis/Backends")<Fixture, { readonly market: ProxyBackend }>() {}

const Gateway = gatewayAfter(
  Fixture,
  Effect.map(startProxyBackend((_req, res) => json(res, 200, { price: 1 })), (market) => ({ market })),
  (b) =>
    adminDoc({
      services: { market_data: serviceAt(b.market.url, { max_retries: 0 }) },
      cache: { enabled: true, redis_url: redisUrl, rules: { [rule]: { ttl: "60s" } } },
      rate_limit: {
        enabled: true,
        store: "redis",
        global: { requests_per_second: 0.001, burst: 1_000 },
        per_ip: { requests_per_minute: 100_000, burst: 100_000 },
        endpoints: { "/api/v1/market-data/symbols": { requests_per_second: 0.001, burst: 2 } }
      }
    })
).pipe(Layer.provideMerge(redisProbeLayer(redisUrl)))

const viaGateway = (path: string) =>
  Effect.flatMap(gatewayUrl, (base) => send(`${base}${path}`, { headers: { "x-api-key": apiKeys.viewer } }))

const view = <A>(path: string) =>
  Effect.map(admin(path, { headers: asAdmin }), (res) => {
    assert.strictEqual(res.status, 200, res.text)
    return JSON.parse(res.text) as A
  })

describe("AdminRedis", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("GET /admin/ratelimits reads the buckets from Redis and counts the refused client IPs", () =>
      Effect.gen(function* () {
        const statuses: Array<number> = []
        for (let i = 0; i < 4; i++) statuses.push((yield* viaGateway("/api/v1/market-data/symbols")).status)
        assert.deepStrictEqual(statuses, [200, 200, 429, 429])
        const r = yield* view<RateLimitView>("/admin/ratelimits")
        assert.strictEqual(r.store, "redis")
        assert.isFalse(r.fallback_active)
        assert.isBelow(r.tokens.endpoints["/api/v1/market-data/symbols"]!, 0.1, "the endpoint bucket in Redis is empty")
        // the global bucket took all four (a refusal gives back what later buckets took, not earlier ones)
        assert.isAtLeast(r.tokens.global, 995.9)
        assert.isAtMost(r.tokens.global, 996.1)
        assert.deepStrictEqual(r.top_rejected_ips, [{ ip: "127.0.0.1", rejections: 2 }])
      }))

    it.effect("GET /admin/cache reports the Redis store reachable; a purge deletes the rule's keys in Redis", () =>
      Effect.gen(function* () {
        const probe = yield* RedisProbe
        yield* viaGateway(`${rule}/A`)
        yield* viaGateway(`${rule}/B`)
        assert.strictEqual((yield* viaGateway(`${rule}/A`)).headers.get("x-cache"), "HIT")
        const c = yield* view<CacheView>("/admin/cache")
        assert.strictEqual(c.store, "redis")
        assert.isTrue(c.redis_reachable)
        assert.isNull(c.entries, "Redis keys are not counted")
        assert.strictEqual(c.hits, 1)
        assert.strictEqual((yield* Effect.promise(() => probe.keys(`gw:cache:v1:${rule}:*`))).length, 2)

        const res = yield* admin("/admin/cache/purge", { method: "POST", headers: asAdmin, body: { prefix: rule } })
        assert.deepStrictEqual(res.json, { prefix: rule, purged: 2 })
        assert.deepStrictEqual(yield* Effect.promise(() => probe.keys(`gw:cache:v1:${rule}:*`)), [])
        assert.strictEqual((yield* viaGateway(`${rule}/A`)).headers.get("x-cache"), "MISS")
      }))
  })
})
