import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { RateLimited } from "../domain/Errors.js"
import type { BucketRef } from "../domain/RateLimits.js"
import type { BucketSpec } from "../domain/TokenBucket.js"

/** The passing bucket with the fewest tokens left: it fills the rate-limit headers. */
export interface Quota {
  readonly spec: BucketSpec
  readonly remaining: number
  readonly msUntilToken: number
}

export interface RateLimiterStats {
  readonly store: "memory" | "redis"
  /** The Redis store answers from local buckets because Redis failed (SPEC §4). */
  readonly fallback: boolean
  /** Tokens now in the global bucket and in each configured endpoint bucket. */
  readonly globalTokens: number
  readonly endpointTokens: ReadonlyArray<{ readonly prefix: string; readonly tokens: number }>
  /** Client IPs by refused requests (any bucket), most first; this process's count. */
  readonly topRejected: ReadonlyArray<{ readonly ip: string; readonly rejections: number }>
}

export class RateLimiter extends Context.Tag("gateway/RateLimiter")<
  RateLimiter,
  {
    /**
     * Takes a token from each bucket in order; a refusal takes nothing from the later ones.
     * Redis trouble never leaks out: the Redis store falls back to local buckets (SPEC §4).
     * The memory store takes the tokens at the call and answers with an Exit (no fiber needed);
     * the Redis store's Effect takes them in Redis when run.
     */
    readonly check: (buckets: ReadonlyArray<BucketRef>) => Effect.Effect<Quota, RateLimited>
    /** Read-only, for the admin API: nothing is taken from any bucket. */
    readonly stats: Effect.Effect<RateLimiterStats>
  }
>() {}
