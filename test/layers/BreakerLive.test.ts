import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { Breaker } from "../../src/services/Breaker.js"
import { admitted, breakerLayer, call, refused, stateOf } from "../support/BreakerHarness.js"

// min_requests 3 and failure_ratio 0.6 (the defaults), a 30 s open timeout, a 10 s window
const cb = { max_requests: 2, interval: "10s", timeout: "30s", failure_ratio: 0.6, min_requests: 3 }

describe("BreakerLive", () => {
  describe("closed", () => {
    it.effect("stays closed below min_requests, even when every request fails", () =>
      Effect.gen(function* () {
        yield* call("market_data", "failure")
        yield* call("market_data", "failure")
        assert.strictEqual(yield* stateOf("market_data"), "closed")
        yield* admitted("market_data")
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("opens once requests reach min_requests with failures/requests ≥ failure_ratio", () =>
      Effect.gen(function* () {
        yield* call("market_data", "success")
        yield* call("market_data", "failure")
        assert.strictEqual(yield* stateOf("market_data"), "closed")
        yield* call("market_data", "failure") // 2 of 3 = 0.67 ≥ 0.6
        assert.strictEqual(yield* stateOf("market_data"), "open")
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("stays closed while the failure ratio is below failure_ratio", () =>
      Effect.gen(function* () {
        for (let i = 0; i < 5; i++) {
          yield* call("market_data", "success")
          yield* call("market_data", "failure") // ratio 0.5 after each pair
        }
        assert.strictEqual(yield* stateOf("market_data"), "closed")
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("does not count client aborts (neither) as requests or failures", () =>
      Effect.gen(function* () {
        for (let i = 0; i < 10; i++) yield* call("market_data", "neither")
        yield* call("market_data", "failure")
        yield* call("market_data", "failure")
        assert.strictEqual(yield* stateOf("market_data"), "closed", "2 requests < min_requests 3")
        const view = (yield* (yield* Breaker).view).find((v) => v.service === "market_data")!
        assert.strictEqual(view.counts.requests, 2)
        assert.strictEqual(view.counts.totalFailures, 2)
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("resets its counts every interval while closed", () =>
      Effect.gen(function* () {
        yield* call("market_data", "failure")
        yield* call("market_data", "failure")
        yield* TestClock.adjust("10 seconds")
        yield* call("market_data", "failure")
        yield* call("market_data", "failure")
        assert.strictEqual(yield* stateOf("market_data"), "closed", "4 failures, but only 2 in this interval")
        yield* call("market_data", "failure")
        assert.strictEqual(yield* stateOf("market_data"), "open", "3 failures in one interval")
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("ignores an outcome recorded against a ticket from a finished interval", () =>
      Effect.gen(function* () {
        const breaker = yield* Breaker
        const old = yield* admitted("market_data")
        yield* TestClock.adjust("10 seconds")
        yield* call("market_data", "success")
        yield* call("market_data", "success")
        yield* call("market_data", "failure") // 1 of 3
        yield* breaker.record(old, "failure") // would make it 2 of 3 ≥ 0.6
        assert.strictEqual(yield* stateOf("market_data"), "closed")
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("each service has its own breaker", () =>
      Effect.gen(function* () {
        for (let i = 0; i < 3; i++) yield* call("market_data", "failure")
        assert.strictEqual(yield* stateOf("market_data"), "open")
        assert.strictEqual(yield* stateOf("order_execution"), "closed")
        yield* admitted("order_execution")
      }).pipe(Effect.provide(breakerLayer(cb))))
  })

  describe("open", () => {
    it.effect("fails admission fast with CircuitOpen carrying the time left until half-open", () =>
      Effect.gen(function* () {
        for (let i = 0; i < 3; i++) yield* call("market_data", "failure")
        const first = yield* refused("market_data")
        assert.strictEqual(first._tag, "CircuitOpen")
        assert.strictEqual(first.service, "market_data")
        assert.strictEqual(first.retryAfterMs, 30_000)
        yield* TestClock.adjust("12 seconds")
        assert.strictEqual((yield* refused("market_data")).retryAfterMs, 18_000)
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("stays open until `timeout` has passed", () =>
      Effect.gen(function* () {
        for (let i = 0; i < 3; i++) yield* call("market_data", "failure")
        yield* TestClock.adjust("29999 millis")
        yield* refused("market_data")
        assert.strictEqual(yield* stateOf("market_data"), "open")
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(yield* stateOf("market_data"), "half_open")
      }).pipe(Effect.provide(breakerLayer(cb))))
  })

  describe("half-open", () => {
    const opened = Effect.gen(function* () {
      for (let i = 0; i < 3; i++) yield* call("market_data", "failure")
      yield* TestClock.adjust("30 seconds")
    })

    it.effect("admits max_requests trial requests, then refuses with CircuitOpen", () =>
      Effect.gen(function* () {
        yield* opened
        yield* admitted("market_data")
        yield* admitted("market_data")
        const third = yield* refused("market_data")
        assert.isAbove(third.retryAfterMs, 0)
        assert.strictEqual(yield* stateOf("market_data"), "half_open")
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("closes after max_requests consecutive successes", () =>
      Effect.gen(function* () {
        const breaker = yield* Breaker
        yield* opened
        const a = yield* admitted("market_data")
        const b = yield* admitted("market_data")
        yield* breaker.record(a, "success")
        assert.strictEqual(yield* stateOf("market_data"), "half_open", "one success of two")
        yield* breaker.record(b, "success")
        assert.strictEqual(yield* stateOf("market_data"), "closed")
        yield* admitted("market_data")
        yield* admitted("market_data")
        yield* admitted("market_data")
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("reopens on one failed trial, for a full timeout again", () =>
      Effect.gen(function* () {
        const breaker = yield* Breaker
        yield* opened
        const a = yield* admitted("market_data")
        const b = yield* admitted("market_data")
        yield* breaker.record(a, "success")
        yield* breaker.record(b, "failure")
        assert.strictEqual(yield* stateOf("market_data"), "open")
        assert.strictEqual((yield* refused("market_data")).retryAfterMs, 30_000)
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual(yield* stateOf("market_data"), "half_open")
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("a client abort of a trial frees its slot without closing or reopening", () =>
      Effect.gen(function* () {
        const breaker = yield* Breaker
        yield* opened
        const a = yield* admitted("market_data")
        yield* admitted("market_data")
        yield* refused("market_data")
        yield* breaker.record(a, "neither")
        assert.strictEqual(yield* stateOf("market_data"), "half_open")
        yield* admitted("market_data")
      }).pipe(Effect.provide(breakerLayer(cb))))
  })

  describe("configuration", () => {
    it.effect("applies per-service overrides to that service only", () =>
      Effect.gen(function* () {
        yield* call("order_execution", "failure")
        assert.strictEqual(yield* stateOf("order_execution"), "open", "min_requests 1 for order_execution")
        assert.strictEqual((yield* refused("order_execution")).retryAfterMs, 5_000, "its own timeout")
        yield* call("market_data", "failure")
        yield* call("market_data", "failure")
        assert.strictEqual(yield* stateOf("market_data"), "closed", "market_data keeps min_requests 3")
        yield* call("market_data", "failure")
        assert.strictEqual((yield* refused("market_data")).retryAfterMs, 30_000, "and the global timeout")
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* stateOf("order_execution"), "half_open")
        assert.strictEqual(yield* stateOf("market_data"), "open")
        yield* admitted("order_execution")
        yield* refused("order_execution") // max_requests 1 for order_execution
      }).pipe(Effect.provide(breakerLayer({ ...cb, services: { order_execution: { min_requests: 1, timeout: "5s", max_requests: 1 } } }))))

    it.effect("a per-service failure_ratio changes when that service trips", () =>
      Effect.gen(function* () {
        for (const service of ["order_execution", "market_data"] as const) {
          yield* call(service, "success")
          yield* call(service, "success")
          yield* call(service, "failure") // 1 of 3 = 0.33
        }
        assert.strictEqual(yield* stateOf("order_execution"), "open", "failure_ratio 0.3 for order_execution")
        assert.strictEqual(yield* stateOf("market_data"), "closed")
      }).pipe(Effect.provide(breakerLayer({ ...cb, services: { order_execution: { failure_ratio: 0.3 } } }))))

    it.effect("with enabled: false always admits, whatever fails", () =>
      Effect.gen(function* () {
        for (let i = 0; i < 50; i++) yield* call("market_data", "failure")
        for (let i = 0; i < 5; i++) yield* admitted("market_data")
        yield* TestClock.adjust("1 hour")
        yield* admitted("market_data")
      }).pipe(Effect.provide(breakerLayer({ ...cb, enabled: false }))))
  })
})
