// Issue 10 (move work off the per-request fiber): on one Redis, the rate-limit check and the
// cache lookup are callback steps (src/http/Eager.ts), so the checks go on in the reply's
// callback and no fiber is held across the round trip; only Redis failing (a warning to log)
// takes a fiber. Against the real Redis on 127.0.0.1:6379, logical database 6 (its own:
// RedisStore flushes 11 to 13 while it runs, which could empty a bucket under these tests).
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { Redis } from "ioredis"
import { type BucketRef, bucketsFor, compileRateLimits } from "../../src/domain/RateLimits.js"
import { registerOf, runStep } from "../../src/http/Eager.js"
import { CacheRedis } from "../../src/layers/CacheRedis.js"
import { MetricsLive } from "../../src/layers/MetricsLive.js"
import { RateLimiterRedis } from "../../src/layers/RateLimiterRedis.js"
import { RedisLive } from "../../src/layers/RedisLive.js"
import { Cache } from "../../src/services/Cache.js"
import { RateLimiter } from "../../src/services/RateLimiter.js"
import { freePort } from "../support/HttpBackend.js"
import { baseDoc, decodeConfig, makeConfigLayer, merge } from "../support/TestConfig.js"

const doc = (redisUrl: string) => ({
  rate_limit: {
    enabled: true,
    store: "redis",
    redis_url: redisUrl,
    global: { requests_per_second: 1_000, burst: 100_000 },
    per_ip: { requests_per_minute: 0.001, burst: 2 }
  },
  cache: { enabled: true, redis_url: redisUrl, rules: { "/api/v1/market-data": { ttl: "60s" } } }
})
const stores = (redisUrl: string) =>
  Layer.mergeAll(RateLimiterRedis, CacheRedis).pipe(Layer.provide(Layer.mergeAll(makeConfigLayer(doc(redisUrl)), MetricsLive, RedisLive)))
const refsFor = (redisUrl: string, ip: string): ReadonlyArray<BucketRef> =>
  bucketsFor(compileRateLimits(decodeConfig(merge(baseDoc, doc(redisUrl)))), "/api/v1/orders", "/api/v1/orders", ip)

/** runStep to an Exit, with the effects it ran on a fiber. */
const stepped = <A, E>(step: Effect.Effect<A, E>) =>
  Effect.async<{ readonly exit: Exit.Exit<A, E>; readonly forked: number }>((resume) => {
    let forked = 0
    const runFork = <X, Y>(effect: Effect.Effect<X, Y>) => {
      forked++
      return Effect.runFork(effect)
    }
    runStep(step, runFork, (exit) => resume(Effect.succeed({ exit, forked })))
  })

describe("Redis stores as callback steps", () => {
  const url = "redis://127.0.0.1:6379/6"

  it.live("a Redis limit check is answered in the reply's callback, allowed or refused, with no fiber", () =>
    Effect.gen(function* () {
      yield* Effect.promise(async () => {
        const r = new Redis(url)
        await r.flushdb()
        await r.quit()
      })
      const limiter = yield* RateLimiter
      const refs = refsFor(url, "198.51.100.7")
      const first = limiter.check(refs)
      assert.isDefined(registerOf(first), "a callback step, not a plain Effect")
      const allowed = yield* stepped(first)
      assert.strictEqual(allowed.forked, 0)
      assert.isTrue(Exit.isSuccess(allowed.exit))
      assert.strictEqual(Exit.isSuccess(allowed.exit) && allowed.exit.value.remaining, 1, "the ip bucket (burst 2) is the tightest")
      assert.isTrue(Exit.isSuccess((yield* stepped(limiter.check(refs))).exit))
      const refused = yield* stepped(limiter.check(refs))
      assert.strictEqual(refused.forked, 0)
      assert.isTrue(Exit.isFailure(refused.exit))
      const error = Exit.isFailure(refused.exit) ? refused.exit.cause : undefined
      assert.include(JSON.stringify(error), "RateLimited")
      assert.include(JSON.stringify(error), "\"scope\":\"ip\"")
    }).pipe(Effect.provide(stores(url))))

  it.live("a Redis cache lookup is answered in the reply's callback: a stored entry, then a miss, with no fiber", () =>
    Effect.gen(function* () {
      const cache = yield* Cache
      const key = `gw:cache:v1:/api/v1/market-data:${"c".repeat(64)}`
      yield* cache.store(key, { status: 200, headers: { "content-type": "text/plain" }, body: Buffer.from("hello"), storedAt: 1 }, 60_000)
      const lookup = cache.lookup(key)
      assert.isDefined(registerOf(lookup))
      const hit = yield* stepped(lookup)
      assert.strictEqual(hit.forked, 0)
      assert.strictEqual(Exit.isSuccess(hit.exit) ? hit.exit.value?.body.toString() : "failed", "hello")
      const miss = yield* stepped(cache.lookup(`gw:cache:v1:/api/v1/market-data:${"d".repeat(64)}`))
      assert.deepStrictEqual(miss, { exit: Exit.succeed(undefined), forked: 0 })
    }).pipe(Effect.provide(stores(url))))

  it.live("with Redis unreachable the check falls back to the local buckets: one fiber to log it, then settled at the call", () =>
    Effect.flatMap(freePort, (port) => {
      const dead = `redis://127.0.0.1:${port}/0` // nothing listens there
      return Effect.gen(function* () {
        const limiter = yield* RateLimiter
        const refs = refsFor(dead, "198.51.100.8")
        const first = yield* stepped(limiter.check(refs))
        assert.strictEqual(first.forked, 1, "the warning is logged on a fiber")
        assert.isTrue(Exit.isSuccess(first.exit), "answered from the local buckets")
        const second = limiter.check(refs)
        assert.isUndefined(registerOf(second), "in fallback the local buckets answer at the call")
        assert.isTrue(Exit.isExit(second) && Exit.isSuccess(second))
        const third = limiter.check(refs)
        assert.isTrue(Exit.isExit(third) && Exit.isFailure(third), "the local ip bucket (burst 2) refuses the third")
      }).pipe(Effect.provide(stores(dead)))
    }))
})
