import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { ServiceName } from "../domain/ServiceName.js"

/** One service's upstream attempts over the last minute (or since start, when shorter). */
export interface UpstreamMinute {
  readonly service: ServiceName
  readonly requests: number
  readonly errors: number
  readonly windowSeconds: number
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
}

export class UpstreamStats extends Context.Tag("gateway/UpstreamStats")<
  UpstreamStats,
  {
    /**
     * Called by the proxy for every attempt, so plain and O(1) (PERFORMANCE.md). `status`
     * is the backend's code, or "error" when none arrived; "error" and 5xx count as errors.
     */
    readonly record: (service: ServiceName, status: string, seconds: number) => void
    readonly lastMinute: Effect.Effect<ReadonlyArray<UpstreamMinute>>
  }
>() {}
