// Token buckets (SPEC §4 Rate limits): `burst` tokens at most, refilled at `ratePerMs`.
// Time is passed in, so the memory store reads it from Clock and TestClock drives refill.
export interface BucketSpec {
  readonly scope: "global" | "ip" | "endpoint"
  /** The configured rate, in its configured unit (X-RateLimit-Limit). */
  readonly limit: number
  readonly ratePerMs: number
  readonly burst: number
  /** The metric label: the endpoint prefix, or the scope for global and ip. */
  readonly label: string
}

export interface BucketState {
  tokens: number
  updatedAt: number
}

export interface Take {
  readonly allowed: boolean
  /** Tokens left after this request (fractional). */
  readonly tokens: number
}

export const refill = (state: BucketState, spec: BucketSpec, now: number): void => {
  const elapsed = now - state.updatedAt
  if (elapsed > 0) state.tokens = Math.min(spec.burst, state.tokens + elapsed * spec.ratePerMs)
  state.updatedAt = Math.max(state.updatedAt, now)
}

/** The tokens a bucket would hold at `now` (a full one when it has no state yet), without taking any. */
export const tokensAt = (state: BucketState | undefined, spec: BucketSpec, now: number): number => {
  if (state === undefined) return spec.burst
  const copy = { ...state }
  refill(copy, spec, now)
  return copy.tokens
}

export const take = (state: BucketState, spec: BucketSpec, now: number): Take => {
  refill(state, spec, now)
  if (state.tokens < 1) return { allowed: false, tokens: state.tokens }
  state.tokens -= 1
  return { allowed: true, tokens: state.tokens }
}

export const fresh = (spec: BucketSpec, now: number): BucketState => ({ tokens: spec.burst, updatedAt: now })

/** Milliseconds until the bucket holds one whole token. */
export const msUntilToken = (tokens: number, spec: BucketSpec): number => (tokens >= 1 ? 0 : (1 - tokens) / spec.ratePerMs)

/** Whole seconds, rounded up, forgiving float noise (0.6/min as a per-ms rate is inexact). */
export const ceilSeconds = (ms: number): number => Math.ceil(ms / 1000 - 1e-6)

/** Seconds for an empty bucket to refill completely (RateLimit-Policy `w`). */
export const refillSeconds = (spec: BucketSpec): number => ceilSeconds(spec.burst / spec.ratePerMs)
