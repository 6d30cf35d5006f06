// SPEC §4 Rate limits, §6: Redis that stops, stalls or comes back is survived without a
// failed client request. Each block runs a redis-server of its own on a free port, so it
// can be killed, paused and restarted; the shared server on 6379 is never touched.
import { assert, describe, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HttpListener } from "../../src/http/Server.js"
import { type Captured, CapturedLogs } from "../support/CapturingSink.js"
import { eventually, realTime, type Reply, send } from "../support/HttpClient.js"
import { hit, metric, metricAt } from "../support/RateGateway.js"
import { openProbe, OwnRedisServer, ownRedisServer, RedisProbe, redisProbeLayer, rateLimitKeys, redisRateLimits, reserveRedisServer } from "../support/RedisHarness.js"
import { makeTestGateway } from "../support/TestGateway.js"

const redisConfig = (url: string) => ({
  rate_limit: redisRateLimits(url, { endpoints: { "/limited": { requests_per_second: 0.001, burst: 3 } } })
})

/** A gateway on a redis-server of the block's own, with RedisProbe and OwnRedisServer. */
const gatewayOnOwnRedis = Layer.unwrapScoped(
  Effect.map(ownRedisServer, (redis) =>
    makeTestGateway(redisConfig(redis.url())).pipe(
      Layer.provideMerge(redisProbeLayer(redis.url())),
      Layer.merge(Layer.succeed(OwnRedisServer, redis))
    ))
)

const fallbackActive = "api_gateway_rate_limit_fallback_active"
const redisErrors = ["api_gateway_redis_errors_total", { component: "rate_limit" }] as const

const unavailableLines = (lines: ReadonlyArray<Captured>) => lines.filter((l) => l.message.startsWith("Redis unavailable"))
const linesSaying = (lines: ReadonlyArray<Captured>, message: string) => lines.filter((l) => l.message === message)

/** Answered, not with a 5xx, within about a second (the command timeout is the only wait; 1.5 s allows for a loaded machine). */
const assertServed = (reply: Reply, what: string) => {
  assert.isBelow(reply.status, 500, `${what}: ${reply.status} ${reply.text}`)
  assert.isBelow(reply.elapsedMs, 1_500, `${what} took ${Math.round(reply.elapsedMs)} ms`)
}

const paths = ["/version", "/no/such/route", "/health/liveness"]

/** `n` requests, one every `spacingMs`, each asserted served. */
const servedRequests = <R>(n: number, spacingMs: number, send1: (path: string) => Effect.Effect<Reply, never, R>) =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => {
    const path = paths[i % paths.length]!
    return Effect.tap(send1(path), (r) => assertServed(r, `request ${i} ${path}`)).pipe(Effect.zipLeft(Effect.sleep(`${spacingMs} millis`)))
  }, { discard: true })

const gaugeIs = (value: number) =>
  eventually(Effect.flatMap(metric(fallbackActive), (v) => Effect.sync(() => assert.strictEqual(v, value, fallbackActive))), {
    timeoutMs: 6_000,
    intervalMs: 100
  })

describe("RedisFaults", () => {
  describe("Redis stopped mid-test, then started again", () => {
    layer(gatewayOnOwnRedis, realTime)((it) => {
      it.effect("falls back to local buckets, says so once, and returns to Redis by itself", () =>
        Effect.gen(function* () {
          const redis = yield* OwnRedisServer
          const logs = yield* CapturedLogs
          assertServed(yield* hit("/version"), "before the stop")
          assert.include(yield* rateLimitKeys, "gw:rl2:{global}", "Redis holds the buckets")
          assert.strictEqual(yield* metric(fallbackActive), 0)

          yield* redis.stop
          yield* servedRequests(30, 40, (path) => hit(path)) // over a second: recovery pings fail meanwhile
          assert.strictEqual(yield* metric(fallbackActive), 1, "local buckets in use")
          assert.isAbove(yield* metric(...redisErrors), 0)
          const warnings = unavailableLines(logs)
          assert.strictEqual(warnings.length, 1, `one line however many requests fail: ${JSON.stringify(warnings)}`)
          assert.strictEqual(warnings[0]!.level, "warn")
          // and why, once, however often the client retried meanwhile (every 100 ms to 1 s)
          const failed = linesSaying(logs, "Redis connection failed")
          assert.lengthOf(failed, 1, JSON.stringify(failed))
          assert.strictEqual(failed[0]!.level, "warn")
          assert.include(String(failed[0]!.fields["error"]), "ECONNREFUSED")
          assert.strictEqual(failed[0]!.fields["redis"], redis.url())

          yield* redis.start
          yield* gaugeIs(0)
          assert.lengthOf(linesSaying(logs, "Redis connection ready"), 1)
          // the new server started empty: new requests write new keys there
          yield* eventually(Effect.gen(function* () {
            assertServed(yield* hit("/version"), "after the restart")
            assert.include(yield* rateLimitKeys, "gw:rl2:{global}")
          }), { timeoutMs: 3_000, intervalMs: 100 })
          assert.strictEqual(unavailableLines(logs).length, 1, "no new warning once Redis is back")
          assert.strictEqual(yield* metric(fallbackActive), 0)
        }))
    })
  })

  describe("Redis paused (CLIENT PAUSE 3000 ALL)", () => {
    layer(gatewayOnOwnRedis, realTime)((it) => {
      it.effect("a stalled Redis costs at most the command timeout; requests are served from local buckets", () =>
        Effect.gen(function* () {
          const probe = yield* RedisProbe
          const logs = yield* CapturedLogs
          assertServed(yield* hit("/version"), "before the pause")
          assert.strictEqual(yield* Effect.promise(() => probe.call("CLIENT", "PAUSE", "3000", "ALL")), "OK")
          const started = performance.now()
          yield* servedRequests(10, 20, (path) => hit(path))
          assert.isBelow(performance.now() - started, 3_000, "all of them answered while Redis was still paused")
          assert.strictEqual(yield* metric(fallbackActive), 1)
          assert.isAbove(yield* metric(...redisErrors), 0)
          assert.strictEqual(unavailableLines(logs).length, 1)
          yield* gaugeIs(0) // the pause ends after 3 s
          assertServed(yield* hit("/version"), "after the pause")
        }))
    })
  })

  it.scopedLive("a gateway whose Redis is down starts within about 3 s, serves, and uses Redis once it appears", () =>
    Effect.gen(function* () {
      const redis = yield* reserveRedisServer
      const started = performance.now()
      const context = yield* Layer.build(Layer.fresh(makeTestGateway(redisConfig(redis.url()))))
      const startMs = performance.now() - started
      assert.isBelow(startMs, 3_500, `started in ${Math.round(startMs)} ms`)
      const base = `http://127.0.0.1:${Context.get(context, HttpListener).port}`
      const logs = Context.get(context, CapturedLogs)
      yield* servedRequests(10, 0, (path) => send(`${base}${path}`))
      assert.strictEqual(yield* metricAt(base, fallbackActive), 1)
      assert.strictEqual(unavailableLines(logs).length, 1)
      // the local buckets still limit: fallback is not fail-open
      for (let i = 0; i < 3; i++) assertServed(yield* send(`${base}/limited/${i}`), `local token ${i}`)
      const refused = yield* send(`${base}/limited/4`)
      assert.strictEqual(refused.status, 429)
      assert.strictEqual(refused.json?.error, "Endpoint rate limit exceeded")

      yield* redis.start
      yield* eventually(Effect.flatMap(metricAt(base, fallbackActive), (v) => Effect.sync(() => assert.strictEqual(v, 0))), {
        timeoutMs: 6_000,
        intervalMs: 100
      })
      const probe = yield* openProbe(redis.url())
      assertServed(yield* send(`${base}/version`), "once Redis is up")
      assert.include(yield* Effect.promise(() => probe.keys("gw:rl2:*")), "gw:rl2:{global}", "the buckets live in Redis now")
    }))
})
