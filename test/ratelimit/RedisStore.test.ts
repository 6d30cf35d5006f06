// SPEC §4 Rate limits with `store: redis`, against the real Redis on 127.0.0.1:6379: one
// atomic script per bucket on Redis's clock, keys with a TTL, state shared by every
// instance. Each block has its own logical database, flushed when its layer starts.
// Client addresses are chosen with X-Forwarded-For (127.0.0.1 is a trusted proxy), so
// each request can have an ip bucket of its own; refill rates are negligible.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { realTime, send } from "../support/HttpClient.js"
import { countOf, hit, metric } from "../support/RateGateway.js"
import { decodeBucket } from "../../src/layers/RateLimiterRedis.js"
import { gatewayInstance, RedisProbe, redisProbeLayer, rateLimitKeys } from "../support/RedisHarness.js"
import { merge } from "../support/TestConfig.js"
import { gatewayUrl, makeTestGateway } from "../support/TestGateway.js"

const redisUrl = (db: number) => `redis://127.0.0.1:6379/${db}`

const redisConfig = (db: number, rateLimit: Record<string, unknown>) => ({
  server: { trusted_proxies: ["127.0.0.1/32"] },
  rate_limit: merge({
    enabled: true,
    store: "redis",
    redis_url: redisUrl(db),
    global: { requests_per_second: 1_000, burst: 100_000 },
    per_ip: { requests_per_minute: 0.001, burst: 3 },
    exempt_paths: ["/metrics"]
  }, rateLimit)
})

/** Client address number `i` of 10.<net>.0.0/16. */
const client = (net: number, i: number) => `10.${net}.${Math.floor(i / 256)}.${i % 256}`

class InstanceA extends Context.Tag("test/InstanceA")<InstanceA, string>() {}
class InstanceB extends Context.Tag("test/InstanceB")<InstanceB, string>() {}

/** `n` concurrent GETs of `path` at the bases, round robin, each from its own client address. */
const burstOf = (bases: ReadonlyArray<string>, n: number, path: string, net: number) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) => Effect.map(send(`${bases[i % bases.length]}${path}/${i}`, { headers: { "x-forwarded-for": client(net, i) } }), (r) => r.status),
    { concurrency: "unbounded" }
  )

const pttl = (key: string) => Effect.flatMap(RedisProbe, (probe) => Effect.promise(() => probe.pttl(key)))

describe("RedisStore", () => {
  describe("one gateway", () => {
    layer(
      makeTestGateway(redisConfig(11, {
        endpoints: {
          "/atomic": { requests_per_second: 0.001, burst: 50 },
          "/ttl": { requests_per_second: 0.001, burst: 5 },
          "/giveback": { requests_per_second: 0.001, burst: 4 }
        }
      })).pipe(Layer.provideMerge(redisProbeLayer(redisUrl(11)))),
      realTime
    )((it) => {
      it.effect("200 concurrent requests against a burst of 50 admit exactly 50", () =>
        Effect.gen(function* () {
          const statuses = yield* burstOf([yield* gatewayUrl], 200, "/atomic", 1)
          assert.strictEqual(countOf(statuses, 404), 50, "admitted: unmatched path, so 404 once past the limits")
          assert.strictEqual(countOf(statuses, 429), 150)
          assert.strictEqual(yield* metric("api_gateway_rate_limit_exceeded_total", { endpoint: "unmatched", limiter_type: "endpoint" }), 150)
          assert.strictEqual(yield* metric("api_gateway_rate_limit_fallback_active"), 0, "Redis answered every time")
        }))

      it.effect("buckets are packed strings under gw:rl2:{…} with a TTL, stamped with Redis's own clock", () =>
        Effect.gen(function* () {
          const probe = yield* RedisProbe
          assert.strictEqual((yield* hit("/ttl/x", "203.0.113.20")).status, 404)
          const keys = yield* rateLimitKeys
          for (const key of ["gw:rl2:{global}", "gw:rl2:{ip:203.0.113.20}", "gw:rl2:{ep:/ttl}"]) assert.include(keys, key)
          for (const key of keys) assert.match(key, /^gw:rl2:\{[^{}]+\}$/, "one hash tag per key, for Redis Cluster")
          const limits: ReadonlyArray<readonly [string, number]> = [
            ["gw:rl2:{global}", 100_000 / 1 + 1_000],
            ["gw:rl2:{ip:203.0.113.20}", 3 / (0.001 / 60_000) + 1_000],
            ["gw:rl2:{ep:/ttl}", 5 / 0.000001 + 1_000]
          ]
          for (const [key, most] of limits) {
            const ttl = yield* pttl(key)
            assert.isAbove(ttl, 0, `${key} expires`)
            assert.isAtMost(ttl, Math.ceil(most), `${key} lives no longer than a full refill and a second`)
          }
          const state = decodeBucket(yield* Effect.promise(() => probe.getBuffer("gw:rl2:{ep:/ttl}")))
          assert.isDefined(state, "16 bytes: tokens and time as two doubles")
          assert.closeTo(state!.tokens, 4, 0.01, "5 tokens, one taken")
          const [seconds, micros] = yield* Effect.promise(() => probe.time())
          const redisNow = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000)
          assert.closeTo(state!.updatedAt, redisNow, 5_000, "stamped with Redis TIME in ms")
        }))

      it.effect("a refusal by the ip bucket gives the endpoint's token back", () =>
        Effect.gen(function* () {
          const probe = yield* RedisProbe
          for (let i = 0; i < 3; i++) assert.strictEqual((yield* hit("/giveback/x", "203.0.113.30")).status, 404)
          for (let i = 0; i < 3; i++) {
            const refused = yield* hit("/giveback/x", "203.0.113.30")
            assert.strictEqual(refused.status, 429)
            assert.strictEqual(refused.json?.error, "IP rate limit exceeded")
          }
          const tokens = decodeBucket(yield* Effect.promise(() => probe.getBuffer("gw:rl2:{ep:/giveback}")))?.tokens ?? Number.NaN
          assert.closeTo(tokens, 1, 0.01, "4 − 3 admitted; the refused requests took nothing from the endpoint")
          assert.strictEqual((yield* hit("/giveback/x", "203.0.113.31")).status, 404)
          const refused = yield* hit("/giveback/x", "203.0.113.32")
          assert.strictEqual(refused.json?.error, "Endpoint rate limit exceeded")
        }))
    })
  })

  describe("two gateways on one Redis, global burst 60", () => {
    layer(
      Layer.mergeAll(
        gatewayInstance(InstanceA, redisConfig(12, { global: { requests_per_second: 0.001, burst: 60 } })),
        gatewayInstance(InstanceB, redisConfig(12, { global: { requests_per_second: 0.001, burst: 60 } }))
      ).pipe(Layer.provideMerge(redisProbeLayer(redisUrl(12)))),
      realTime
    )((it) => {
      it.effect("together they admit exactly the global burst", () =>
        Effect.gen(function* () {
          const bases = [yield* InstanceA, yield* InstanceB]
          assert.notStrictEqual(bases[0], bases[1], "two listeners")
          const statuses = yield* burstOf(bases, 150, "/together", 2)
          assert.strictEqual(countOf(statuses, 404), 60)
          assert.strictEqual(countOf(statuses, 429), 90)
          for (const base of bases) {
            const after = yield* send(`${base}/version`, { headers: { "x-forwarded-for": "203.0.113.250" } })
            assert.strictEqual(after.json?.error, "Global rate limit exceeded", base)
          }
        }))
    })
  })

  describe("two gateways on one Redis, shared ip and endpoint buckets", () => {
    layer(
      Layer.mergeAll(
        gatewayInstance(InstanceA, redisConfig(13, { endpoints: { "/shared": { requests_per_second: 0.001, burst: 5 } } })),
        gatewayInstance(InstanceB, redisConfig(13, { endpoints: { "/shared": { requests_per_second: 0.001, burst: 5 } } }))
      ).pipe(Layer.provideMerge(redisProbeLayer(redisUrl(13)))),
      realTime
    )((it) => {
      it.effect("requests to instance A deplete instance B's endpoint bucket", () =>
        Effect.gen(function* () {
          const a = yield* InstanceA
          const b = yield* InstanceB
          for (let i = 0; i < 5; i++) {
            const res = yield* send(`${a}/shared/${i}`, { headers: { "x-forwarded-for": `203.0.113.${i + 1}` } })
            assert.strictEqual(res.status, 404)
          }
          const refused = yield* send(`${b}/shared/9`, { headers: { "x-forwarded-for": "203.0.113.99" } })
          assert.strictEqual(refused.status, 429)
          assert.strictEqual(refused.json?.error, "Endpoint rate limit exceeded")
        }))

      it.effect("requests to instance A deplete a client's ip bucket on instance B", () =>
        Effect.gen(function* () {
          const a = yield* InstanceA
          const b = yield* InstanceB
          const from = { headers: { "x-forwarded-for": "198.51.100.77" } }
          for (let i = 0; i < 3; i++) assert.strictEqual((yield* send(`${a}/version`, from)).status, 200)
          const refused = yield* send(`${b}/version`, from)
          assert.strictEqual(refused.status, 429)
          assert.strictEqual(refused.json?.error, "IP rate limit exceeded")
          const other = yield* send(`${b}/version`, { headers: { "x-forwarded-for": "198.51.100.78" } })
          assert.strictEqual(other.status, 200, "another client still passes on B")
          assert.strictEqual(other.headers.get("ratelimit-policy"), "\"ip\";q=3;w=180000")
        }))
    })
  })
})
