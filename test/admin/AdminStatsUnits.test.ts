// The admin views' building blocks on their own: the latency window and its layer on
// TestClock, the rate limiter's read-only stats, and the config redaction.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { LatencyWindow } from "../../src/domain/LatencyWindow.js"
import { bucketsFor, compileRateLimits } from "../../src/domain/RateLimits.js"
import { redactConfig, redactUrl } from "../../src/domain/RedactConfig.js"
import { RateLimiterMemory } from "../../src/layers/RateLimiterMemory.js"
import { UpstreamStatsLive } from "../../src/layers/UpstreamStatsLive.js"
import { GatewayConfig } from "../../src/services/GatewayConfig.js"
import { RateLimiter } from "../../src/services/RateLimiter.js"
import { UpstreamStats } from "../../src/services/UpstreamStats.js"
import { decodeConfig, makeConfigLayer, merge, baseDoc } from "../support/TestConfig.js"

describe("LatencyWindow", () => {
  it("reports p50 and p99 within one bucket (≤ 10 % above the truth), never below it", () => {
    const w = new LatencyWindow()
    for (let i = 1; i <= 1000; i++) w.record(5_000, i, i > 990)
    const s = w.summary(5_000)
    assert.strictEqual(s.requests, 1000)
    assert.strictEqual(s.errors, 10)
    assert.isAtLeast(s.p50Ms!, 500)
    assert.isAtMost(s.p50Ms!, 550)
    assert.isAtLeast(s.p99Ms!, 990)
    assert.isAtMost(s.p99Ms!, 1090)
  })

  it("forgets what is older than a minute, slot by slot", () => {
    const w = new LatencyWindow()
    w.record(0, 10, true)
    w.record(30_500, 100, false)
    assert.strictEqual(w.summary(59_999).requests, 2)
    const later = w.summary(60_000)
    assert.deepStrictEqual([later.requests, later.errors], [1, 0], "the first second left the window")
    assert.isAtLeast(later.p50Ms!, 100)
    w.record(61_000, 1, false) // reuses the slot of second 1 without mixing in old counts
    assert.strictEqual(w.summary(61_000).requests, 2)
    assert.strictEqual(w.summary(91_000).requests, 1, "second 30 left, second 61 stays")
    assert.strictEqual(w.summary(121_000).requests, 0)
    assert.isUndefined(w.summary(121_000).p50Ms)
  })
})

describe("UpstreamStatsLive", () => {
  it.effect("counts attempts per service over the last minute of the Clock; 5xx and no answer are errors", () =>
    Effect.gen(function* () {
      const stats = yield* UpstreamStats
      yield* TestClock.adjust("10 seconds")
      stats.record("market_data", "200", 0.02)
      stats.record("market_data", "503", 0.04)
      stats.record("market_data", "error", 5)
      stats.record("market_data", "404", 0.01)
      const now = (yield* stats.lastMinute).find((m) => m.service === "market_data")!
      assert.deepStrictEqual([now.requests, now.errors, now.windowSeconds], [4, 2, 10])
      assert.isAtLeast(now.p99Ms!, 5_000)
      yield* TestClock.adjust("61 seconds")
      const later = (yield* stats.lastMinute).find((m) => m.service === "market_data")!
      assert.deepStrictEqual([later.requests, later.windowSeconds], [0, 60])
    }).pipe(Effect.provide(UpstreamStatsLive)))
})

describe("RateLimiterStats", () => {
  const limiter = RateLimiterMemory.pipe(Layer.provideMerge(makeConfigLayer({
    rate_limit: {
      enabled: true,
      global: { requests_per_second: 100, burst: 10 },
      per_ip: { requests_per_minute: 60_000, burst: 1_000 },
      endpoints: { "/api/v1/orders": { requests_per_second: 1, burst: 2 }, "/api/v1/risk": { requests_per_second: 1, burst: 5 } }
    }
  })))
  const request = (path: string, ip: string) =>
    Effect.gen(function* () {
      const { config } = yield* (yield* GatewayConfig).current
      return yield* Effect.either((yield* RateLimiter).check(bucketsFor(compileRateLimits(config), path, path, ip)))
    })

  it.effect("reads the tokens refilled to now and ranks the refused client IPs, taking nothing", () =>
    Effect.gen(function* () {
      for (let i = 0; i < 4; i++) yield* request("/api/v1/orders", "198.51.100.7")
      for (let i = 0; i < 3; i++) yield* request("/api/v1/orders", "203.0.113.9")
      const limiter = yield* RateLimiter
      const stats = yield* limiter.stats
      assert.strictEqual(stats.store, "memory")
      assert.isFalse(stats.fallback)
      assert.strictEqual(stats.globalTokens, 3, "seven requests took seven of ten")
      assert.deepStrictEqual(stats.endpointTokens, [{ prefix: "/api/v1/orders", tokens: 0 }, { prefix: "/api/v1/risk", tokens: 5 }])
      assert.deepStrictEqual(stats.topRejected, [{ ip: "198.51.100.7", rejections: 2 }, { ip: "203.0.113.9", rejections: 3 }].sort((a, b) => b.rejections - a.rejections))
      yield* TestClock.adjust("1500 millis")
      const later = yield* limiter.stats
      assert.strictEqual(later.globalTokens, 10)
      assert.deepStrictEqual(later.endpointTokens[0], { prefix: "/api/v1/orders", tokens: 1.5 })
      assert.deepStrictEqual(yield* limiter.stats, later, "reading takes nothing")
    }).pipe(Effect.provide(limiter)))
})

describe("RedactConfig", () => {
  it("replaces the JWT secret, every API key and credentials inside URLs, and nothing else", () => {
    const config = decodeConfig(merge(baseDoc, {
      auth: { enabled: true, jwt_secret: "top-secret-value-0123456789abcdef", api_keys: [{ key: "k-1234567890", role: "admin", name: "ops" }] },
      cache: { redis_url: "rediss://:cache-pass@redis.internal:6380/2" },
      rate_limit: { store: "redis", redis_url: "redis://limiter:rl-pass@10.0.0.5:6379/0?password=also-secret" }
    }))
    const doc = redactConfig(config) as { auth: Record<string, unknown>; cache: Record<string, unknown>; rate_limit: Record<string, unknown>; server: unknown }
    const text = JSON.stringify(doc)
    for (const secret of ["top-secret-value", "k-1234567890", "cache-pass", "rl-pass", "also-secret", "limiter"]) assert.notInclude(text, secret)
    assert.strictEqual(doc.auth.jwt_secret, "[REDACTED]")
    assert.deepStrictEqual(doc.auth.api_keys, [{ key: "[REDACTED]", role: "admin", name: "ops" }])
    assert.strictEqual(doc.cache.redis_url, "rediss://[REDACTED]@redis.internal:6380/2")
    assert.strictEqual(doc.rate_limit.redis_url, "redis://[REDACTED]@10.0.0.5:6379/0?password=[REDACTED]")
    assert.deepStrictEqual(doc.server, config.server, "the rest is the running config")
    assert.strictEqual(config.auth.jwt_secret, "top-secret-value-0123456789abcdef", "the running config is untouched")
  })

  it("leaves URLs without credentials alone", () => {
    assert.strictEqual(redactUrl("http://localhost:8080"), "http://localhost:8080")
    assert.strictEqual(redactUrl("redis+sentinel://a:26379,b:26379/mymaster"), "redis+sentinel://a:26379,b:26379/mymaster")
    assert.strictEqual(redactUrl("redis+cluster://user:pw@a:7000,b:7001"), "redis+cluster://[REDACTED]@a:7000,b:7001")
  })
})
