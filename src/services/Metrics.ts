import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { Counter, Gauge, Histogram } from "prom-client"

// The seed's section 5 metrics plus SPEC §5's additions, names and labels exact.
// Label values are bounded by the callers: route templates, fixed reason sets.
export interface GatewayMetrics {
  readonly httpRequests: Counter<"method" | "path" | "status">
  readonly httpDuration: Histogram<"method" | "path">
  readonly httpRequestSize: Histogram<"method" | "path">
  readonly httpResponseSize: Histogram<"method" | "path">
  readonly activeConnections: Gauge
  readonly breakerState: Gauge<"service">
  readonly breakerTransitions: Counter<"service" | "from" | "to">
  readonly cacheHits: Counter<"endpoint">
  readonly cacheMisses: Counter<"endpoint">
  readonly cacheBypass: Counter<"reason">
  readonly rateLimitExceeded: Counter<"endpoint" | "limiter_type">
  readonly rateLimitFallbackActive: Gauge
  readonly upstreamRequests: Counter<"service" | "method" | "status">
  readonly upstreamDuration: Histogram<"service" | "method">
  readonly upstreamErrors: Counter<"service" | "error_type">
  readonly authAttempts: Counter<"type">
  readonly authFailures: Counter<"type" | "reason">
  readonly websocketConnections: Gauge
  readonly redisErrors: Counter<"component">
  readonly configReloads: Counter<"result">
  /** The Prometheus text exposition of this registry. */
  readonly render: Effect.Effect<{ readonly contentType: string; readonly body: string }>
}

export class Metrics extends Context.Tag("gateway/Metrics")<Metrics, GatewayMetrics>() {}

/** SPEC §5: `method` is a standard method or OTHER. */
const standardMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"])
export const methodLabel = (method: string | undefined): string =>
  method !== undefined && standardMethods.has(method) ? method : "OTHER"
