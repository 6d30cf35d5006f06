// SPEC §4 Retries: what may be retried, and the backoff as an Effect Schedule.
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"

export type FailureKind = "connection_refused" | "reset" | "bad_response" | "timeout" | "status" | "aborted"

/** One upstream attempt that did not yield a response to pass on. */
export interface AttemptFailure {
  readonly _tag: "AttemptFailure"
  readonly kind: FailureKind
  /** Refused, connect timeout, unresolvable: the backend never saw the request. */
  readonly neverSent: boolean
  readonly detail: string
  /** For kind "status": the 502/503/504 the backend answered. */
  readonly status?: number
}

export const attemptFailure = (kind: FailureKind, neverSent: boolean, detail: string, status?: number): AttemptFailure =>
  status === undefined ? { _tag: "AttemptFailure", kind, neverSent, detail } : { _tag: "AttemptFailure", kind, neverSent, detail, status }

const idempotent = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])

export const retryableStatus = (status: number): boolean => status === 502 || status === 503 || status === 504

/** Whether this request may ever be retried after a response or error of the sent kind. */
export const idempotentRequest = (method: string, idempotencyKey: boolean): boolean => idempotencyKey || idempotent.has(method)

// A request never sent is always safe to retry; beyond that only idempotent requests, so
// an order is never placed twice (SPEC §4 change).
export const mayRetry = (failure: AttemptFailure, method: string, idempotencyKey: boolean): boolean =>
  failure.kind !== "aborted" && (failure.neverSent || idempotentRequest(method, idempotencyKey))

export interface RetrySettings {
  readonly initialIntervalMs: number
  readonly maxIntervalMs: number
  readonly multiplier: number
  readonly jitter: boolean
}

/** Exponential from initial_interval, each delay jittered by [0.8, 1.2], then capped. */
export const retrySchedule = (settings: RetrySettings, maxRetries: number) => {
  const exponential = Schedule.exponential(Duration.millis(settings.initialIntervalMs), settings.multiplier)
  const jittered = settings.jitter ? Schedule.jitteredWith(exponential, { min: 0.8, max: 1.2 }) : exponential
  return jittered.pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.millis(settings.maxIntervalMs))),
    Schedule.intersect(Schedule.recurs(maxRetries))
  )
}
