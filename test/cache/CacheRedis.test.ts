// SPEC §4 Cache with cache.redis_url: entries shared by every instance under
// gw:cache:v1:<rule prefix>:<sha256> with a TTL; a Redis that dies or stalls is bypassed
// (X-Cache: BYPASS, never a 5xx), said once, counted (§5), and caching resumes by itself.
// The shared server gets this file's own database 14; the fault blocks run their own
// redis-server on a free port, which they kill and pause.
import { assert, describe, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { type Captured, CapturedLogs } from "../support/CapturingSink.js"
import { cacheHandler, cacheServices, fetchPath, Gate, metric, metricAt, xCache } from "../support/CacheBackend.js"
import { type Backend, Backends, backendNamed, startBackend } from "../support/HttpBackend.js"
import { eventually, type Reply, realTime, send } from "../support/HttpClient.js"
import {
  answersPing, gatewayInstance, openProbe, OwnRedisServer, ownRedisServer, RedisProbe, redisProbeLayer, reserveRedisServer
} from "../support/RedisHarness.js"
import { merge } from "../support/TestConfig.js"
import { gatewayUrl, makeTestGateway } from "../support/TestGateway.js"

const symbols = "/api/v1/market-data/symbols"
const sharedUrl = "redis://127.0.0.1:6379/14"

const configFor = (market: Backend, redisUrl: string, rules: Record<string, unknown>) =>
  merge(cacheServices(market, market), { cache: { redis_url: redisUrl, rules } })

class InstanceA extends Context.Tag("test/CacheInstanceA")<InstanceA, string>() {}
class InstanceB extends Context.Tag("test/CacheInstanceB")<InstanceB, string>() {}

const sharedRules = { [symbols]: { ttl: "30s" }, "/api/v1/market-data/ticker": { ttl: "30s" } }

class SharedGate extends Context.Tag("test/CacheRedisGate")<SharedGate, Gate>() {}

/** Two gateways sharing nothing but one (gated) backend and database 14 of the shared Redis. */
const twoInstances = Layer.unwrapScoped(
  Effect.gen(function* () {
    const gate = new Gate()
    const market = yield* startBackend(cacheHandler(0, gate))
    return Layer.mergeAll(
      gatewayInstance(InstanceA, configFor(market, sharedUrl, sharedRules)),
      gatewayInstance(InstanceB, configFor(market, sharedUrl, sharedRules)),
      Layer.succeed(Backends, { market }),
      Layer.succeed(SharedGate, gate)
    )
  })
).pipe(Layer.provideMerge(redisProbeLayer(sharedUrl)))

/** One gateway on a redis-server of the block's own, with its logs, the server and the backend. */
const gatewayOnOwnRedis = Layer.unwrapScoped(
  Effect.gen(function* () {
    const redis = yield* ownRedisServer
    const market = yield* startBackend(cacheHandler())
    return makeTestGateway(configFor(market, redis.url(0), { "/api/v1/market-data": { ttl: "30s" } })).pipe(
      Layer.merge(Layer.succeed(OwnRedisServer, redis)),
      Layer.merge(Layer.succeed(Backends, { market }))
    )
  })
)

const cacheKeys = (pattern = "gw:cache:v1:*") =>
  Effect.flatMap(RedisProbe, (probe) => Effect.promise(() => probe.keys(pattern)))

const unavailable = (logs: ReadonlyArray<Captured>) => logs.filter((l) => l.message === "Redis unavailable: the cache is bypassed")

const bypassed = () => metric("api_gateway_cache_bypass_total")
const redisErrors = () => metric("api_gateway_redis_errors_total", { component: "cache" })

/** Served from the backend, not failed, within about a second (a 300 ms command timeout, slack for a loaded machine). */
const assertBypassed = (reply: Reply, what: string) => {
  assert.strictEqual(reply.status, 200, `${what}: ${reply.status} ${reply.text}`)
  assert.strictEqual(xCache(reply), "BYPASS", what)
  assert.isBelow(reply.elapsedMs, 1_200, `${what} took ${Math.round(reply.elapsedMs)} ms`)
}

/** Polls `path` until it is a HIT, collecting the X-Cache values seen on the way. */
const untilHit = (path: string, timeoutMs: number) =>
  Effect.gen(function* () {
    const seen: Array<string | null> = []
    yield* eventually(
      Effect.flatMap(fetchPath(path), (r) => {
        seen.push(xCache(r))
        assert.strictEqual(r.status, 200, `${path} while waiting for a HIT`)
        return xCache(r) === "HIT" ? Effect.void : Effect.dieMessage(`X-Cache ${xCache(r)}`)
      }),
      { timeoutMs, intervalMs: 100 }
    )
    return seen
  })

describe("CacheRedis", () => {
  describe("two instances on one Redis", () => {
    layer(twoInstances, realTime)((it) => {
      it.effect("instance A stores a response and instance B serves it as a HIT", () =>
        Effect.gen(function* () {
          const [a, b] = [yield* InstanceA, yield* InstanceB]
          assert.notStrictEqual(a, b)
          const first = yield* send(`${a}${symbols}`)
          assert.strictEqual(first.status, 200)
          assert.strictEqual(xCache(first), "MISS")
          yield* eventually(Effect.flatMap(cacheKeys(), (keys) => Effect.sync(() => assert.lengthOf(keys, 1))), { timeoutMs: 2_000 })
          const fromB = yield* send(`${b}${symbols}`)
          assert.strictEqual(fromB.status, 200)
          assert.strictEqual(xCache(fromB), "HIT", "B never saw this path: the entry came from Redis")
          assert.strictEqual(fromB.text, first.text)
          assert.strictEqual(fromB.headers.get("content-type"), first.headers.get("content-type"))
          assert.match(fromB.headers.get("age") ?? "", /^\d+$/)
          assert.strictEqual(xCache(yield* send(`${a}${symbols}`)), "HIT")
          assert.strictEqual((yield* backendNamed("market")).hits(symbols), 1)
        }))

      it.effect("keys are gw:cache:v1:<rule prefix>:<64 hex> with a PTTL within the rule's ttl", () =>
        Effect.gen(function* () {
          const probe = yield* RedisProbe
          assert.strictEqual(xCache(yield* send(`${yield* InstanceA}${symbols}?page=2`)), "MISS")
          assert.strictEqual(xCache(yield* send(`${yield* InstanceB}/api/v1/market-data/ticker/KEYS`)), "MISS")
          const keys = yield* eventually(
            Effect.flatMap(cacheKeys(), (keys) => Effect.sync(() => (assert.isAtLeast(keys.length, 2), keys))),
            { timeoutMs: 2_000 }
          )
          for (const key of keys) {
            assert.match(key, /^gw:cache:v1:\/api\/v1\/market-data\/(symbols|ticker):[0-9a-f]{64}$/)
            const ttl = yield* Effect.promise(() => probe.pttl(key))
            assert.isAbove(ttl, 0, `${key} expires`)
            assert.isAtMost(ttl, 30_000, `${key} lives no longer than its ttl`)
          }
          assert.isAtLeast((yield* cacheKeys("gw:cache:v1:/api/v1/market-data/symbols:*")).length, 1)
          assert.lengthOf(yield* cacheKeys("gw:cache:v1:/api/v1/market-data/ticker:*"), 1)
        }))

      it.effect("concurrent misses for one key make one backend request with the Redis store too", () =>
        Effect.gen(function* () {
          const [a, gate] = [yield* InstanceA, yield* SharedGate]
          const path = "/api/v1/market-data/ticker/COALESCE"
          const missesOfA = metricAt(a, "api_gateway_cache_misses_total", { endpoint: "/api/v1/market-data/ticker" })
          const before = yield* missesOfA
          gate.close()
          const fiber = yield* Effect.fork(
            Effect.forEach(Array.from({ length: 30 }), () => send(`${a}${path}?gate=1`), { concurrency: "unbounded" })
          )
          // the backend answers once every lookup has missed: the 30 are concurrent
          yield* eventually(Effect.flatMap(missesOfA, (m) => Effect.sync(() => assert.strictEqual(m - before, 30))), {
            timeoutMs: 10_000
          }).pipe(Effect.ensuring(Effect.sync(() => gate.open())))
          const replies = yield* Fiber.join(fiber)
          assert.deepStrictEqual([...new Set(replies.map((r) => r.status))], [200])
          assert.lengthOf([...new Set(replies.map((r) => r.text))], 1, "one body for all")
          assert.strictEqual((yield* backendNamed("market")).hits(path), 1)
        }))

      it.effect("a response that may not be stored leaves no key", () =>
        Effect.gen(function* () {
          for (const kind of ["no-store", "private", "cookie", "not-found"]) {
            const before = (yield* cacheKeys()).length
            const reply = yield* send(`${yield* InstanceA}/api/v1/market-data/ticker/${kind}`)
            assert.strictEqual(xCache(reply), "MISS", kind)
            yield* Effect.sleep("200 millis") // stores are asynchronous: give a wrong one time to land
            assert.strictEqual((yield* cacheKeys()).length, before, `${kind}: no key stored`)
          }
        }))
    })
  })

  describe("own Redis killed, then restarted", () => {
    layer(gatewayOnOwnRedis, realTime)((it) => {
      it.effect("requests are BYPASS (never 5xx), counted, warned about once; caching resumes after the restart", () =>
        Effect.gen(function* () {
          const redis = yield* OwnRedisServer
          const logs = yield* CapturedLogs
          const path = "/api/v1/market-data/ticker/KILL"
          assert.strictEqual(xCache(yield* fetchPath(path)), "MISS")
          yield* untilHit(path, 2_000)
          const [bypass0, errors0] = [yield* bypassed(), yield* redisErrors()]
          assert.lengthOf(unavailable(logs), 0, "no warning while Redis answers")

          yield* redis.stop
          const started = performance.now()
          for (let i = 0; performance.now() - started < 1_500; i++) {
            assertBypassed(yield* fetchPath(path), `request ${i} with Redis down`)
            yield* Effect.sleep("100 millis")
          }
          assert.isAbove((yield* bypassed()) - bypass0, 0, "api_gateway_cache_bypass_total")
          assert.isAbove((yield* redisErrors()) - errors0, 0, "api_gateway_redis_errors_total{component=\"cache\"}")
          const warnings = unavailable(logs)
          assert.lengthOf(warnings, 1, `one warning however many requests bypass: ${JSON.stringify(warnings)}`)
          assert.strictEqual(warnings[0]!.level, "warn")

          yield* redis.start
          const seen = yield* untilHit(path, 8_000)
          const miss = seen.indexOf("MISS")
          assert.isAtLeast(miss, 0, `the restarted server is empty: a MISS before the HIT (${seen.join(", ")})`)
          for (const status of seen.slice(0, miss)) assert.strictEqual(status, "BYPASS")
          assert.lengthOf(unavailable(logs), 1, "no new warning once Redis is back")
        }))

      it.effect("CLIENT PAUSE 2000 ALL: each request is answered BYPASS within about a second", () =>
        Effect.scoped(Effect.gen(function* () {
          const redis = yield* OwnRedisServer
          if (!(yield* Effect.promise(() => answersPing(redis.port)))) yield* redis.start
          const logs = yield* CapturedLogs
          const path = "/api/v1/market-data/ticker/PAUSE"
          yield* untilHit(path, 8_000)
          const warnings0 = unavailable(logs).length
          const errors0 = yield* redisErrors()
          const probe = yield* openProbe(redis.url(0))
          assert.strictEqual(yield* Effect.promise(() => probe.call("CLIENT", "PAUSE", "2000", "ALL")), "OK")
          const paused = performance.now()
          for (let i = 0; performance.now() - paused < 1_500; i++) {
            assertBypassed(yield* fetchPath(path), `request ${i} with Redis paused`)
            yield* Effect.sleep("50 millis")
          }
          assert.isAbove((yield* redisErrors()) - errors0, 0)
          assert.strictEqual(unavailable(logs).length, warnings0 + 1, "one warning for this outage")
          const seen = yield* untilHit(path, 5_000)
          assert.notInclude(seen, "MISS", "the entry outlived the pause")
        })))
    })
  })

  it.scopedLive("a gateway started while its Redis is down serves BYPASS, then caches once Redis appears", () =>
    Effect.gen(function* () {
      const redis = yield* reserveRedisServer
      const market = yield* startBackend(cacheHandler())
      const gateway = makeTestGateway(configFor(market, redis.url(0), { "/api/v1/market-data": { ttl: "30s" } }))
      const context = yield* Layer.build(Layer.fresh(gateway))
      const base = yield* Effect.provide(gatewayUrl, context)
      const path = "/api/v1/market-data/ticker/LATE"
      for (let i = 0; i < 3; i++) assertBypassed(yield* send(`${base}${path}`), `request ${i} before Redis exists`)
      assert.lengthOf(unavailable(Context.get(context, CapturedLogs)), 1)
      yield* redis.start
      const seen = yield* untilHit(path, 8_000).pipe(Effect.provide(context))
      assert.include(seen, "MISS", seen.join(", "))
      assert.strictEqual(market.hits(path), 3 + seen.filter((s) => s !== "HIT").length, "only the hit spared the backend")
    }))
})
