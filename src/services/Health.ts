import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

export interface ServiceHealth {
  readonly status: "healthy" | "unhealthy"
  readonly error?: string
  readonly latency_ms?: number
}

export interface HealthReport {
  readonly status: "ok" | "degraded"
  readonly timestamp: string
  readonly services?: Readonly<Record<string, ServiceHealth>>
  readonly open_circuit_breakers?: ReadonlyArray<string>
}

export interface Readiness {
  readonly ready: boolean
  readonly reasons: ReadonlyArray<string>
}

export class Health extends Context.Tag("gateway/Health")<
  Health,
  {
    /** SPEC §5 /health: service checks in parallel, each bounded, the result kept for 1 s. */
    readonly report: Effect.Effect<HealthReport>
    readonly readiness: Effect.Effect<Readiness>
  }
>() {}
