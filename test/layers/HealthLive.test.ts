import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { serviceNames } from "../../src/domain/ServiceName.js"
import { Health } from "../../src/services/Health.js"
import { Lifecycle } from "../../src/services/Lifecycle.js"
import { call, forceOpen, healthLayer, stateOf } from "../support/BreakerHarness.js"

const withRule = (rule: "any" | "all" | "ignore" | undefined) =>
  healthLayer({
    circuit_breaker: { timeout: "30s", min_requests: 3, failure_ratio: 0.6 },
    health: rule === undefined ? { check_services: false } : { check_services: false, readiness_breakers: rule }
  })

const readiness = Effect.flatMap(Health, (h) => h.readiness)

const openAll = Effect.forEach(serviceNames, forceOpen, { discard: true })

describe("HealthLive", () => {
  describe("readiness", () => {
    it.effect("is ready with every breaker closed, whatever the rule", () =>
      Effect.gen(function* () {
        for (const rule of ["any", "all", "ignore"] as const) {
          assert.deepStrictEqual(yield* readiness.pipe(Effect.provide(withRule(rule))), { ready: true, reasons: [] }, rule)
        }
      }))

    it.effect("any: one open breaker makes it not ready, naming the service", () =>
      Effect.gen(function* () {
        yield* forceOpen("market_data")
        assert.deepStrictEqual(yield* readiness, { ready: false, reasons: ["circuit breaker open for market_data"] })
        yield* forceOpen("risk_manager")
        const r = yield* readiness
        assert.isFalse(r.ready)
        assert.sameMembers([...r.reasons], ["circuit breaker open for market_data", "circuit breaker open for risk_manager"])
      }).pipe(Effect.provide(withRule("any"))))

    it.effect("any: ready again once the breaker is half-open after its timeout", () =>
      Effect.gen(function* () {
        yield* forceOpen("market_data")
        assert.isFalse((yield* readiness).ready)
        yield* TestClock.adjust("30 seconds")
        assert.deepStrictEqual(yield* readiness, { ready: true, reasons: [] })
        assert.strictEqual(yield* stateOf("market_data"), "half_open")
      }).pipe(Effect.provide(withRule("any"))))

    it.effect("all: ready while some services' breakers are open", () =>
      Effect.gen(function* () {
        for (const service of serviceNames.slice(0, -1)) yield* forceOpen(service)
        assert.deepStrictEqual(yield* readiness, { ready: true, reasons: [] })
      }).pipe(Effect.provide(withRule("all"))))

    it.effect("all: not ready when every breaker is open, with one reason per service", () =>
      Effect.gen(function* () {
        yield* openAll
        const r = yield* readiness
        assert.isFalse(r.ready)
        assert.sameMembers([...r.reasons], serviceNames.map((s) => `circuit breaker open for ${s}`))
      }).pipe(Effect.provide(withRule("all"))))

    it.effect("all is the default rule", () =>
      Effect.gen(function* () {
        yield* forceOpen("market_data")
        assert.isTrue((yield* readiness).ready)
        yield* openAll
        assert.isFalse((yield* readiness).ready)
      }).pipe(Effect.provide(withRule(undefined))))

    it.effect("ignore: ready with every breaker open", () =>
      Effect.gen(function* () {
        yield* openAll
        assert.deepStrictEqual(yield* readiness, { ready: true, reasons: [] })
      }).pipe(Effect.provide(withRule("ignore"))))

    it.effect("not ready while shutting down, whatever the breakers", () =>
      Effect.gen(function* () {
        ;(yield* Lifecycle).beginShutdown()
        assert.deepStrictEqual(yield* readiness, { ready: false, reasons: ["shutting down"] })
      }).pipe(Effect.provide(withRule("ignore"))))
  })

  describe("report", () => {
    it.effect("lists open breakers and says degraded; ok without them", () =>
      Effect.gen(function* () {
        const health = yield* Health
        const before = yield* health.report
        assert.strictEqual(before.status, "ok")
        assert.isUndefined(before.open_circuit_breakers)
        yield* forceOpen("order_execution")
        yield* TestClock.adjust("1001 millis") // past the 1 s result cache
        const after = yield* health.report
        assert.strictEqual(after.status, "degraded")
        assert.deepStrictEqual(after.open_circuit_breakers, ["order_execution"])
      }).pipe(Effect.provide(withRule("ignore"))))

    it.effect("keeps one result for 1 s, so probes cannot multiply the work", () =>
      Effect.gen(function* () {
        const health = yield* Health
        assert.strictEqual((yield* health.report).status, "ok")
        yield* forceOpen("order_execution")
        assert.strictEqual((yield* health.report).status, "ok", "still the cached result")
        yield* TestClock.adjust("1001 millis")
        assert.strictEqual((yield* health.report).status, "degraded")
        yield* call("market_data", "success")
      }).pipe(Effect.provide(withRule("any"))))
  })
})
