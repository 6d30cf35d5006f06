import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import { type BreakerSettings, type BreakerState, CircuitBreaker, type Outcome } from "../domain/CircuitBreaker.js"
import { CircuitOpen } from "../domain/Errors.js"
import type { GatewayConfig as Config } from "../domain/GatewayConfig.js"
import { type ServiceName, serviceNames } from "../domain/ServiceName.js"
import { Breaker, type Ticket } from "../services/Breaker.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Metrics } from "../services/Metrics.js"

const gaugeValue: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 }

// Every breaker key can be overridden per service (SPEC §2).
export const breakerSettings = (config: Config, service: ServiceName): BreakerSettings => {
  const c = config.circuit_breaker
  const o = c.services[service] ?? {}
  return {
    maxRequests: o.max_requests ?? c.max_requests,
    intervalMs: o.interval ?? c.interval,
    timeoutMs: o.timeout ?? c.timeout,
    failureRatio: o.failure_ratio ?? c.failure_ratio,
    minRequests: o.min_requests ?? c.min_requests
  }
}

const make = Effect.gen(function* () {
  const config = yield* GatewayConfig
  const metrics = yield* Metrics
  const clock = yield* Effect.clock
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  const now = () => clock.unsafeCurrentTimeMillis()
  let enabled = (yield* config.current).config.circuit_breaker.enabled
  const first = (yield* config.current).config

  // transitions happen inside the synchronous machine; they are counted at once and
  // logged by the Effect that caused them
  const pending: Array<{ service: ServiceName; from: BreakerState; to: BreakerState }> = []
  const announce = Effect.suspend(() =>
    Effect.forEach(pending.splice(0), ({ from, service, to }) =>
      (to === "open" ? Effect.logWarning("circuit breaker state changed") : Effect.logInfo("circuit breaker state changed")).pipe(
        Effect.annotateLogs({ service, from, to })
      ), { discard: true })
  )
  const announced = <A, E>(effect: Effect.Effect<A, E>) => (pending.length === 0 ? effect : Effect.zipRight(announce, effect))

  const breakers = new Map<ServiceName, CircuitBreaker>()
  for (const service of serviceNames) {
    breakers.set(service, new CircuitBreaker(breakerSettings(first, service), now(), ({ from, to }) => {
      metrics.breakerTransitions.inc({ service, from, to })
      metrics.breakerState.set({ service }, gaugeValue[to])
      pending.push({ service, from, to })
    }))
  }
  // new settings apply to the next generation of counts; state is kept across reloads
  yield* config.changes.pipe(
    Stream.runForEach((s) => Effect.sync(() => {
      enabled = s.config.circuit_breaker.enabled
      for (const [service, b] of breakers) b.settings = breakerSettings(s.config, service)
    })),
    Effect.forkScoped
  )

  const recordNow = (ticket: Ticket, outcome: Outcome) => {
    if (ticket.generation >= 0) breakers.get(ticket.service)!.record(ticket.generation, outcome, now())
  }
  const disabledTicket = (service: ServiceName): Ticket => ({ service, generation: -1 })
  return Breaker.of({
    // settled at the call (an Exit, so the checks need no fiber); a transition it causes is logged by a fiber of its own
    admit: (service) => {
      if (!enabled) return Exit.succeed(disabledTicket(service))
      const a = breakers.get(service)!.admit(now())
      if (a._tag === "Rejected") metrics.upstreamErrors.inc({ service, error_type: "circuit_open" })
      if (pending.length > 0) runFork(announce)
      return a._tag === "Admitted" ? Exit.succeed<Ticket>({ service, generation: a.generation }) : Exit.fail(new CircuitOpen({ service, retryAfterMs: a.retryAfterMs }))
    },
    record: (ticket, outcome) =>
      Effect.suspend(() => {
        recordNow(ticket, outcome)
        return announced(Effect.void)
      }),
    recordNow: (ticket, outcome) => {
      recordNow(ticket, outcome)
      if (pending.length > 0) runFork(announce)
    },
    reset: (service) => Effect.suspend(() => {
      breakers.get(service)!.reset(now())
      return announced(Effect.void)
    }),
    view: Effect.suspend(() =>
      announced(Effect.succeed(
        [...breakers].map(([service, b]) => ({ service, state: b.current(now()), counts: { ...b.counts }, lastTransition: b.lastTransition }))
      ))
    )
  })
})

export const BreakerLive = Layer.scoped(Breaker, make)
