import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { BreakerState } from "../domain/CircuitBreaker.js"
import type { ServiceName } from "../domain/ServiceName.js"

// The admin API's read-only views (issue #11), in the API's snake_case: they are sent as
// JSON as they are, by the admin listener and to gatewayctl.

export interface RouteView {
  readonly method: string
  readonly path: string
  /** undefined for the gateway's own public endpoints. */
  readonly service: ServiceName | undefined
  /** The least role a caller needs; "public" for the public endpoints. */
  readonly role: string
  readonly summary: string
}

export interface ServiceView {
  readonly name: ServiceName
  readonly url: string
  readonly timeout_ms: number
  readonly max_retries: number
  readonly breaker: {
    readonly state: BreakerState
    /** The counts of the current interval (closed) or trial (half-open). */
    readonly counts: {
      readonly requests: number
      readonly total_successes: number
      readonly total_failures: number
      readonly consecutive_successes: number
      readonly consecutive_failures: number
    }
    readonly last_transition: { readonly from: BreakerState; readonly to: BreakerState; readonly at: string } | null
  }
  /** Upstream attempts over the last minute (less right after start: window_seconds). */
  readonly last_minute: {
    readonly window_seconds: number
    readonly requests: number
    readonly errors: number
    readonly requests_per_second: number
    readonly error_ratio: number
    readonly latency_p50_ms: number | null
    readonly latency_p99_ms: number | null
  }
}

export interface RateLimitView {
  readonly enabled: boolean
  readonly store: "memory" | "redis"
  readonly fallback_active: boolean
  readonly configured: {
    readonly global: { readonly requests_per_second: number; readonly burst: number }
    readonly per_ip: { readonly requests_per_minute: number; readonly burst: number; readonly max_tracked: number }
    readonly endpoints: Readonly<Record<string, { readonly requests_per_second: number; readonly burst: number }>>
    readonly exempt_paths: ReadonlyArray<string>
  }
  readonly tokens: {
    readonly global: number
    readonly endpoints: Readonly<Record<string, number>>
  }
  /** Refusals since start, by bucket (api_gateway_rate_limit_exceeded_total). */
  readonly rejections: { readonly total: number; readonly global: number; readonly ip: number; readonly endpoint: number }
  readonly top_rejected_ips: ReadonlyArray<{ readonly ip: string; readonly rejections: number }>
}

export interface CacheView {
  readonly enabled: boolean
  readonly store: "memory" | "redis"
  /** undefined for Redis: counting its keys would scan them all. */
  readonly entries: number | null
  readonly max_entries: number | null
  readonly hits: number
  readonly misses: number
  readonly hit_ratio: number | null
  readonly redis_reachable: boolean | null
  readonly rules: ReadonlyArray<{
    readonly prefix: string
    readonly ttl_ms: number
    readonly shared: boolean
    readonly hits: number
    readonly misses: number
    readonly hit_ratio: number | null
  }>
}

export interface ConfigView {
  readonly path: string
  readonly file_hash: string
  readonly loaded_at: string
  /** The running config, every secret replaced by "[REDACTED]". */
  readonly config: unknown
}

export interface StatusView {
  readonly service: "api-gateway"
  readonly version: string
  readonly git_commit: string
  readonly uptime_seconds: number
  readonly config: { readonly file_hash: string; readonly loaded_at: string }
  readonly services: ReadonlyArray<ServiceView>
  readonly cache: CacheView
  readonly rate_limits: RateLimitView
}

export class AdminStats extends Context.Tag("gateway/AdminStats")<
  AdminStats,
  {
    readonly routes: Effect.Effect<ReadonlyArray<RouteView>>
    readonly services: Effect.Effect<ReadonlyArray<ServiceView>>
    readonly rateLimits: Effect.Effect<RateLimitView>
    readonly cache: Effect.Effect<CacheView>
    readonly config: Effect.Effect<ConfigView>
    /** Everything the dashboard and `gatewayctl status` show, read at once. */
    readonly status: Effect.Effect<StatusView>
  }
>() {}
