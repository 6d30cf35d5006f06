import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { ServiceName } from "../domain/ServiceName.js"

export type BreakerState = "closed" | "half_open" | "open"

/** The read side of the per-service circuit breakers, for health and readiness. */
export class BreakerStates extends Context.Tag("gateway/BreakerStates")<
  BreakerStates,
  {
    readonly states: Effect.Effect<ReadonlyArray<readonly [ServiceName, BreakerState]>>
  }
>() {}
