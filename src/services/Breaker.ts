import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { BreakerState, Counts, Outcome } from "../domain/CircuitBreaker.js"
import type { CircuitOpen } from "../domain/Errors.js"
import type { ServiceName } from "../domain/ServiceName.js"

/** Proof that an attempt was admitted; its outcome is recorded against it. */
export interface Ticket {
  readonly service: ServiceName
  readonly generation: number
}

export interface BreakerView {
  readonly service: ServiceName
  readonly state: BreakerState
  readonly counts: Counts
  readonly lastTransition: { readonly from: BreakerState; readonly to: BreakerState; readonly at: number } | undefined
}

export class Breaker extends Context.Tag("gateway/Breaker")<
  Breaker,
  {
    /**
     * Fails fast with CircuitOpen (503 + Retry-After) while open or half-open full. Decided at
     * the call (an Exit, so the checks need no fiber): call it once per attempt.
     */
    readonly admit: (service: ServiceName) => Effect.Effect<Ticket, CircuitOpen>
    readonly record: (ticket: Ticket, outcome: Outcome) => Effect.Effect<void>
    /**
     * `record` for callers outside any fiber: the first upstream attempt runs as plain undici
     * (PERFORMANCE.md), and a fiber per outcome would cost more than the record itself. A
     * transition it causes is logged by a fiber of its own.
     */
    readonly recordNow: (ticket: Ticket, outcome: Outcome) => void
    readonly reset: (service: ServiceName) => Effect.Effect<void>
    readonly view: Effect.Effect<ReadonlyArray<BreakerView>>
  }
>() {}
