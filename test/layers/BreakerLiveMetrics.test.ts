import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { serviceNames } from "../../src/domain/ServiceName.js"
import { Breaker } from "../../src/services/Breaker.js"
import { admitted, breakerLayer, call, forceOpen, gauge, metric, refused, stateOf, transitions } from "../support/BreakerHarness.js"

const cb = { max_requests: 1, interval: "10s", timeout: "30s", failure_ratio: 0.6, min_requests: 3 }

describe("BreakerLive", () => {
  describe("metrics", () => {
    it.effect("api_gateway_circuit_breaker_state starts at 0 for every service", () =>
      Effect.gen(function* () {
        for (const service of serviceNames) assert.strictEqual(yield* gauge(service), 0, service)
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("the state gauge reads 2 open, 1 half-open, 0 closed, for that service only", () =>
      Effect.gen(function* () {
        yield* forceOpen("market_data")
        assert.strictEqual(yield* gauge("market_data"), 2)
        assert.strictEqual(yield* gauge("order_execution"), 0)
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual(yield* stateOf("market_data"), "half_open")
        assert.strictEqual(yield* gauge("market_data"), 1)
        yield* call("market_data", "success")
        assert.strictEqual(yield* stateOf("market_data"), "closed")
        assert.strictEqual(yield* gauge("market_data"), 0)
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("transitions_total counts each transition by from and to", () =>
      Effect.gen(function* () {
        yield* forceOpen("market_data")
        yield* TestClock.adjust("30 seconds")
        yield* call("market_data", "failure") // half_open → open
        yield* TestClock.adjust("30 seconds")
        yield* call("market_data", "success") // half_open → closed
        assert.strictEqual(yield* transitions("market_data", "closed", "open"), 1)
        assert.strictEqual(yield* transitions("market_data", "open", "half_open"), 2)
        assert.strictEqual(yield* transitions("market_data", "half_open", "open"), 1)
        assert.strictEqual(yield* transitions("market_data", "half_open", "closed"), 1)
        assert.strictEqual(yield* transitions("order_execution", "closed", "open"), 0)
        assert.strictEqual(yield* gauge("market_data"), 0)
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("a refused admission counts as an upstream error of type circuit_open", () =>
      Effect.gen(function* () {
        yield* forceOpen("market_data")
        const before = yield* metric("api_gateway_upstream_errors_total", "api_gateway_upstream_errors_total", { service: "market_data", error_type: "circuit_open" })
        yield* refused("market_data")
        yield* refused("market_data")
        const after = yield* metric("api_gateway_upstream_errors_total", "api_gateway_upstream_errors_total", { service: "market_data", error_type: "circuit_open" })
        assert.strictEqual(after - before, 2)
      }).pipe(Effect.provide(breakerLayer(cb))))

    it.effect("the operators' reset closes an open breaker and counts the transition", () =>
      Effect.gen(function* () {
        yield* forceOpen("market_data")
        yield* (yield* Breaker).reset("market_data")
        assert.strictEqual(yield* stateOf("market_data"), "closed")
        assert.strictEqual(yield* gauge("market_data"), 0)
        assert.strictEqual(yield* transitions("market_data", "open", "closed"), 1)
        yield* admitted("market_data")
      }).pipe(Effect.provide(breakerLayer(cb))))
  })
})
