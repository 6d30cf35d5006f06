// SPEC §4 Rate limits, the token buckets themselves: the memory store on TestClock, so a
// refill is a TestClock.adjust and every count is exact.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { RateLimited } from "../../src/domain/Errors.js"
import { bucketsFor, compileRateLimits } from "../../src/domain/RateLimits.js"
import { toErrorReply } from "../../src/http/ErrorResponse.js"
import { RateLimiterMemory } from "../../src/layers/RateLimiterMemory.js"
import { GatewayConfig } from "../../src/services/GatewayConfig.js"
import { type Quota, RateLimiter } from "../../src/services/RateLimiter.js"
import { makeConfigLayer } from "../support/TestConfig.js"

type Doc = Record<string, unknown>

/** Generous limits unless a test names its own: only the bucket under test ever refuses. */
const limiterWith = (rateLimit: Doc) =>
  RateLimiterMemory.pipe(
    Layer.provideMerge(makeConfigLayer({
      rate_limit: {
        enabled: true,
        global: { requests_per_second: 1_000, burst: 10_000 },
        per_ip: { requests_per_minute: 60_000, burst: 10_000 },
        ...rateLimit
      }
    }))
  )

/** One request for `path` from `ip`: the Quota, or the refusal. */
const check = (path: string, ip = "203.0.113.1") =>
  Effect.gen(function* () {
    const { config } = yield* (yield* GatewayConfig).current
    const limiter = yield* RateLimiter
    return yield* Effect.either(limiter.check(bucketsFor(compileRateLimits(config), path, path, ip)))
  })

const passes = (path: string, ip?: string) =>
  Effect.map(check(path, ip), (result): Quota => {
    assert.isTrue(Either.isRight(result), `${path} from ${ip ?? "the default ip"} should pass, got ${JSON.stringify(Either.isLeft(result) ? result.left : undefined)}`)
    return (result as Either.Right<RateLimited, Quota>).right
  })

const refused = (path: string, ip?: string) =>
  Effect.map(check(path, ip), (result): RateLimited => {
    assert.isTrue(Either.isLeft(result), `${path} from ${ip ?? "the default ip"} should be refused`)
    return (result as Either.Left<RateLimited, Quota>).left
  })

const passesTimes = (n: number, path: string, ip?: string) => Effect.repeatN(passes(path, ip), n - 1)

describe("Buckets", () => {
  it.effect("admits a full burst at once, then refuses", () =>
    Effect.gen(function* () {
      const remaining: Array<number> = []
      for (let i = 0; i < 3; i++) remaining.push((yield* passes("/x")).remaining)
      assert.deepStrictEqual(remaining, [2, 1, 0])
      const refusal = yield* refused("/x")
      assert.strictEqual(refusal._tag, "RateLimited")
      assert.strictEqual(refusal.scope, "global")
      yield* refused("/x") // still refused: no time has passed
    }).pipe(Effect.provide(limiterWith({ global: { requests_per_second: 2, burst: 3 } }))))

  it.effect("refills one token per 1/rate: rps 2 gives one token every 500 ms, capped at the burst", () =>
    Effect.gen(function* () {
      yield* passesTimes(3, "/x")
      yield* refused("/x")
      yield* TestClock.adjust("499 millis")
      yield* refused("/x")
      yield* TestClock.adjust("1 millis")
      yield* passes("/x")
      yield* refused("/x")
      yield* TestClock.adjust("1 second")
      yield* passesTimes(2, "/x")
      yield* refused("/x")
      yield* TestClock.adjust("1 hour") // never more than the burst
      yield* passesTimes(3, "/x")
      yield* refused("/x")
    }).pipe(Effect.provide(limiterWith({ global: { requests_per_second: 2, burst: 3 } }))))

  it.effect("refusal by the global bucket takes nothing from the ip bucket", () =>
    Effect.gen(function* () {
      yield* passesTimes(2, "/x", "203.0.113.7") // global 2 → 0, ip 3 → 1
      const first = yield* refused("/x", "203.0.113.7")
      assert.strictEqual(first.scope, "global")
      yield* TestClock.adjust("2 seconds") // global refills 2; ip gains 2/60 of a token
      const quota = yield* passes("/x", "203.0.113.7") // the ip token left before the refusal
      assert.strictEqual(quota.spec.scope, "ip")
      const second = yield* refused("/x", "203.0.113.7")
      assert.strictEqual(second.scope, "ip", "the global bucket still has a token: the ip bucket is the one that ran out")
    }).pipe(Effect.provide(limiterWith({
      global: { requests_per_second: 1, burst: 2 },
      per_ip: { requests_per_minute: 1, burst: 3 }
    }))))

  it.effect("checks global, then ip, then endpoint; an ip refusal leaves the endpoint's tokens untouched", () =>
    Effect.gen(function* () {
      const a = "198.51.100.1"
      const b = "198.51.100.2"
      yield* passesTimes(3, "/api/v1/orders/1", a) // ip a 3 → 0, endpoint 5 → 2
      for (let i = 0; i < 4; i++) assert.strictEqual((yield* refused("/api/v1/orders/1", a)).scope, "ip")
      const left: Array<number> = []
      for (let i = 0; i < 2; i++) left.push((yield* passes("/api/v1/orders/2", b)).remaining)
      assert.deepStrictEqual(left, [1, 0], "b gets the 2 endpoint tokens a's refusals left")
      assert.strictEqual((yield* refused("/api/v1/orders/2", b)).scope, "endpoint")
      // both a's ip bucket and the endpoint bucket are empty: the earlier scope answers
      assert.strictEqual((yield* refused("/api/v1/orders/1", a)).scope, "ip")
    }).pipe(Effect.provide(limiterWith({
      per_ip: { requests_per_minute: 0.001, burst: 3 },
      endpoints: { "/api/v1/orders": { requests_per_second: 0.001, burst: 5 } }
    }))))

  it.effect("an empty global bucket answers before an empty ip bucket", () =>
    Effect.gen(function* () {
      yield* passesTimes(2, "/x")
      assert.strictEqual((yield* refused("/x")).scope, "global")
    }).pipe(Effect.provide(limiterWith({
      global: { requests_per_second: 0.001, burst: 2 },
      per_ip: { requests_per_minute: 0.001, burst: 2 }
    }))))

  it.effect("the longest configured prefix on a segment boundary wins, one bucket for every ip", () =>
    Effect.gen(function* () {
      const ips = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"]
      // /api/v1/orders (burst 2) is shared by all callers
      assert.strictEqual((yield* passes("/api/v1/orders/42", ips[0])).spec.label, "/api/v1/orders")
      assert.strictEqual((yield* passes("/api/v1/orders", ips[1])).spec.label, "/api/v1/orders")
      const refusal = yield* refused("/api/v1/orders/7", ips[2])
      assert.strictEqual(refusal.scope, "endpoint")
      // the longer prefix has its own bucket (burst 1)
      const active = yield* passes("/api/v1/orders/active", ips[3])
      assert.strictEqual(active.spec.label, "/api/v1/orders/active")
      assert.strictEqual((yield* refused("/api/v1/orders/active/x", ips[0])).scope, "endpoint")
      // not on a segment boundary: /api/v1/orders-archive and /api/v1/ordersX are not under /api/v1/orders
      for (const path of ["/api/v1/orders-archive", "/api/v1/ordersX/1"]) {
        assert.strictEqual((yield* passes(path, ips[0])).spec.label, "/api", path)
      }
      // a prefix written with a trailing slash still matches its own path and below
      assert.strictEqual((yield* passes("/api/v1/risk", ips[1])).spec.label, "/api/v1/risk/")
      assert.strictEqual((yield* refused("/api/v1/risk/limits", ips[2])).scope, "endpoint")
    }).pipe(Effect.provide(limiterWith({
      endpoints: {
        "/api/v1/orders": { requests_per_second: 0.001, burst: 2 },
        "/api/v1/orders/active": { requests_per_second: 0.001, burst: 1 },
        "/api/v1/risk/": { requests_per_second: 0.001, burst: 1 },
        "/api": { requests_per_second: 1_000, burst: 5_000 }
      }
    }))))

  it.effect("the ip rate is per minute: 30/min gives one token every 2 s", () =>
    Effect.gen(function* () {
      const quota = yield* passes("/x")
      assert.strictEqual(quota.spec.scope, "ip")
      assert.strictEqual(quota.spec.limit, 30, "X-RateLimit-Limit of an ip bucket is its per-minute rate")
      yield* passes("/x")
      const refusal = yield* refused("/x")
      assert.strictEqual(refusal.scope, "ip")
      assert.closeTo(refusal.retryAfterMs, 2_000, 1e-6)
      yield* TestClock.adjust("1 second")
      assert.closeTo((yield* refused("/x")).retryAfterMs, 1_000, 1e-6)
      yield* TestClock.adjust("1 second")
      yield* passes("/x")
      yield* refused("/x")
      yield* passes("/x", "203.0.113.99") // another ip has its own full bucket
    }).pipe(Effect.provide(limiterWith({ per_ip: { requests_per_minute: 30, burst: 2 } }))))

  it.effect("with max_tracked 3, a 4th ip evicts the least recently seen one", () =>
    Effect.gen(function* () {
      const [a, b, c, d] = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"] as const
      for (const ip of [a, b, c]) {
        yield* passesTimes(2, "/x", ip)
        yield* refused("/x", ip)
      }
      yield* refused("/x", a) // a is seen again: b is now the least recently seen
      yield* passes("/x", d) // d evicts b
      assert.strictEqual((yield* refused("/x", a)).scope, "ip", "a was seen recently: it keeps its empty bucket")
      assert.strictEqual((yield* passes("/x", b)).remaining, 1, "b was evicted: it comes back to a full bucket")
      // b's return evicted c, the least recently seen (order c, a, d)
      assert.strictEqual((yield* passes("/x", c)).remaining, 1, "c was evicted by b's return")
      assert.strictEqual((yield* passes("/x", b)).remaining, 0, "b keeps the bucket it came back to")
      // recency is approximate (LruMap.ts, as Redis's LRU): a's read just after d's insertion
      // found it in the newer half of the map and did not move it again, so c's return evicted a
      // (order a, d, b), where an exact LRU would have evicted d
      assert.strictEqual((yield* passes("/x", a)).remaining, 1, "a was evicted by c's return")
      assert.strictEqual((yield* refused("/x", b)).scope, "ip", "b is still remembered, now empty")
    }).pipe(Effect.provide(limiterWith({ per_ip: { requests_per_minute: 0.001, burst: 2, max_tracked: 3 } }))))

  it.effect("the Quota is the passing bucket with the fewest tokens left", () =>
    Effect.gen(function* () {
      const first = yield* passes("/api/v1/market-data/symbols", "192.0.2.1") // global 99, ip 3, endpoint 1
      assert.strictEqual(first.spec.scope, "endpoint")
      assert.strictEqual(first.spec.limit, 0.5)
      assert.strictEqual(first.spec.burst, 2)
      assert.strictEqual(first.remaining, 1)
      assert.strictEqual(first.msUntilToken, 0, "a token is there now")
      const second = yield* passes("/api/v1/market-data/symbols", "192.0.2.1") // ip 2, endpoint 0
      assert.strictEqual(second.spec.scope, "endpoint")
      assert.strictEqual(second.remaining, 0)
      assert.closeTo(second.msUntilToken, 2_000, 1e-6, "rps 0.5: the next token in 2 s")
      const elsewhere = yield* passes("/api/v1/account/balance", "192.0.2.1") // global 97, ip 1
      assert.strictEqual(elsewhere.spec.scope, "ip")
      assert.strictEqual(elsewhere.spec.limit, 6)
      assert.strictEqual(elsewhere.spec.burst, 4)
      assert.strictEqual(elsewhere.remaining, 1)
      const fresh = yield* passes("/api/v1/account/balance", "192.0.2.2") // global 96, ip 3
      assert.strictEqual(fresh.spec.scope, "ip")
      assert.strictEqual(fresh.remaining, 3)
    }).pipe(Effect.provide(limiterWith({
      global: { requests_per_second: 0.001, burst: 100 },
      per_ip: { requests_per_minute: 6, burst: 4 },
      endpoints: { "/api/v1/market-data": { requests_per_second: 0.5, burst: 2 } }
    }))))

  it.effect("the global bucket is the Quota when it holds the fewest tokens", () =>
    Effect.gen(function* () {
      const quota = yield* passes("/api/v1/orders", "192.0.2.1")
      assert.strictEqual(quota.spec.scope, "global")
      assert.strictEqual(quota.spec.limit, 4, "X-RateLimit-Limit of the global bucket is per second")
      assert.strictEqual(quota.remaining, 1)
    }).pipe(Effect.provide(limiterWith({
      global: { requests_per_second: 4, burst: 2 },
      endpoints: { "/api/v1/orders": { requests_per_second: 1, burst: 3 } }
    }))))

  it.effect("retryAfterMs is the time until the refusing bucket holds a whole token", () =>
    Effect.gen(function* () {
      yield* passes("/x")
      assert.closeTo((yield* refused("/x")).retryAfterMs, 250, 1e-6, "global rps 4")
      yield* TestClock.adjust("100 millis")
      assert.closeTo((yield* refused("/x")).retryAfterMs, 150, 1e-6, "100 ms later")
    }).pipe(Effect.provide(limiterWith({ global: { requests_per_second: 4, burst: 1 } }))))

  it.effect("retryAfterMs of an ip and an endpoint refusal follow their own rates", () =>
    Effect.gen(function* () {
      yield* passes("/api/v1/orders", "192.0.2.1")
      const ip = yield* refused("/x", "192.0.2.1")
      assert.strictEqual(ip.scope, "ip")
      assert.closeTo(ip.retryAfterMs, 10_000, 1e-6, "6 per minute: one token per 10 s")
      yield* passes("/api/v1/orders", "192.0.2.2")
      const endpoint = yield* refused("/api/v1/orders/1", "192.0.2.3")
      assert.strictEqual(endpoint.scope, "endpoint")
      assert.closeTo(endpoint.retryAfterMs, 2_000, 1e-6, "rps 0.5: one token per 2 s")
    }).pipe(Effect.provide(limiterWith({
      per_ip: { requests_per_minute: 6, burst: 1 },
      endpoints: { "/api/v1/orders": { requests_per_second: 0.5, burst: 2 } }
    }))))

  it.effect("Retry-After of an empty 0.6/min bucket is 100 s, the time to one token, in whole seconds", () =>
    Effect.gen(function* () {
      yield* passes("/x")
      const refusal = yield* refused("/x")
      assert.strictEqual(refusal.scope, "ip")
      assert.closeTo(refusal.retryAfterMs, 100_000, 1e-6)
      assert.deepStrictEqual(toErrorReply(refusal).headers, { "retry-after": "100" })
      yield* TestClock.adjust("99 seconds")
      assert.deepStrictEqual(toErrorReply(yield* refused("/x")).headers, { "retry-after": "1" })
    }).pipe(Effect.provide(limiterWith({ per_ip: { requests_per_minute: 0.6, burst: 1 } }))))
})
