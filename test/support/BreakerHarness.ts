// The Breaker service as production builds it (BreakerLive over a literal config and a
// fresh metrics registry), for unit tests on the TestClock. Provide the layer inside the
// test (Effect.provide), so BreakerLive reads the test's clock and each test starts fresh.
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { CircuitOpen } from "../../src/domain/Errors.js"
import type { ServiceName } from "../../src/domain/ServiceName.js"
import { BreakerLive } from "../../src/layers/BreakerLive.js"
import { HealthLive } from "../../src/layers/HealthLive.js"
import { LifecycleLive } from "../../src/layers/LifecycleLive.js"
import { MetricsLive } from "../../src/layers/MetricsLive.js"
import { Breaker, type Ticket } from "../../src/services/Breaker.js"
import { Metrics } from "../../src/services/Metrics.js"
import { parsePrometheus, samplesOf } from "./HttpPrometheus.js"
import { makeConfigLayer } from "./TestConfig.js"

type Doc = Record<string, unknown>

/** Breaker and Metrics over `circuit_breaker` (merged over the defaults) and any other keys. */
export const breakerLayer = (circuitBreaker: Doc, over: Doc = {}) =>
  BreakerLive.pipe(Layer.provideMerge(Layer.merge(makeConfigLayer({ ...over, circuit_breaker: circuitBreaker }), MetricsLive)))

/** Health (readiness and /health) over the live breakers, Lifecycle exposed so a test can drain. */
export const healthLayer = (over: Doc) =>
  HealthLive.pipe(
    Layer.provideMerge(BreakerLive),
    Layer.provideMerge(Layer.mergeAll(makeConfigLayer(over), MetricsLive, LifecycleLive))
  )

/** One attempt from admission to outcome. */
export const call = (service: ServiceName, outcome: "success" | "failure" | "neither") =>
  Effect.flatMap(Breaker, (b) => Effect.flatMap(b.admit(service), (ticket) => b.record(ticket, outcome)))

/** Admission that must succeed. */
export const admitted = (service: ServiceName): Effect.Effect<Ticket, never, Breaker> =>
  Effect.flatMap(Breaker, (b) => b.admit(service)).pipe(
    Effect.catchAll((e) => Effect.sync(() => assert.fail(`expected ${service} to admit, got ${e._tag} (retry after ${e.retryAfterMs} ms)`)))
  )

/** Admission that must fail fast with CircuitOpen. */
export const refused = (service: ServiceName): Effect.Effect<CircuitOpen, never, Breaker> =>
  Effect.flatMap(Breaker, (b) => b.admit(service)).pipe(
    Effect.flip,
    Effect.catchAll(() => Effect.sync(() => assert.fail(`expected ${service} to refuse with CircuitOpen`)))
  )

export const stateOf = (service: ServiceName) =>
  Effect.flatMap(Breaker, (b) => b.view).pipe(Effect.map((views) => views.find((v) => v.service === service)!.state))

/** Records failures until the breaker refuses (at most 100), then checks it is open. */
export const forceOpen = (service: ServiceName) =>
  Effect.gen(function* () {
    const breaker = yield* Breaker
    for (let i = 0; i < 100; i++) {
      const admission = yield* Effect.either(breaker.admit(service))
      if (admission._tag === "Left") break
      yield* breaker.record(admission.right, "failure")
    }
    assert.strictEqual(yield* stateOf(service), "open", `${service} should be open`)
  })

/** The sum of one metric's samples whose labels include `labels`, read through Metrics.render. */
export const metric = (family: string, sample: string, labels: Readonly<Record<string, string>>) =>
  Effect.flatMap(Metrics, (m) => m.render).pipe(
    Effect.map(({ body }) => samplesOf(parsePrometheus(body).get(family), sample, labels).reduce((sum, s) => sum + s.value, 0))
  )

export const gauge = (service: ServiceName) =>
  metric("api_gateway_circuit_breaker_state", "api_gateway_circuit_breaker_state", { service })

export const transitions = (service: ServiceName, from: string, to: string) =>
  metric("api_gateway_circuit_breaker_transitions_total", "api_gateway_circuit_breaker_transitions_total", { service, from, to })
