import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import cluster from "node:cluster"
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client"
import { Metrics } from "../services/Metrics.js"
import { serviceNames } from "../domain/ServiceName.js"

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const sizeBuckets = [0, 64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216]

let nextRequest = 0

/** Asks the primary for every worker's metrics; this worker's own if it does not answer. */
const fromPrimary = (registry: Registry) =>
  Effect.async<{ readonly contentType: string; readonly body: string }>((resume) => {
    const id = nextRequest++
    const onMessage = (m: { type?: string; id?: number; body?: string; contentType?: string; error?: string }) => {
      if (m?.type !== "gw:metrics:res" || m.id !== id) return
      process.off("message", onMessage)
      if (m.body !== undefined) resume(Effect.succeed({ contentType: m.contentType ?? registry.contentType, body: m.body }))
      else resume(Effect.promise(() => registry.metrics()).pipe(Effect.map((body) => ({ contentType: registry.contentType, body }))))
    }
    process.on("message", onMessage)
    process.send?.({ type: "gw:metrics:req", id })
    return Effect.sync(() => process.off("message", onMessage))
  }).pipe(
    Effect.timeout("6 seconds"),
    Effect.orElse(() => Effect.promise(() => registry.metrics()).pipe(Effect.map((body) => ({ contentType: registry.contentType, body }))))
  )

// Its own Registry, never prom-client's global one: a second build (tests) must not collide.
export const MetricsLive = Layer.effect(
  Metrics,
  Effect.sync(() => {
    const registers = [new Registry()]
    const [registry] = registers as [Registry]
    collectDefaultMetrics({ register: registry })
    // with several workers, /metrics answers for all of them (SPEC §5): the primary aggregates
    const clustered = cluster.isWorker && Number(process.env.GATEWAY_WORKERS ?? "1") > 1
    if (clustered) {
      AggregatorRegistry.setRegistries([registry])
      new AggregatorRegistry() // installs prom-client's worker-side listener for the primary's requests
    }
    const counter = <L extends string>(name: string, help: string, labelNames: ReadonlyArray<L>) =>
      new Counter<L>({ name, help, labelNames, registers })
    const gauge = <L extends string>(name: string, help: string, labelNames: ReadonlyArray<L>, aggregator: "sum" | "max" = "sum") =>
      new Gauge<L>({ name, help, labelNames, registers, aggregator })
    const histogram = <L extends string>(name: string, help: string, labelNames: ReadonlyArray<L>, buckets: Array<number>) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers })

    // across workers the worst state shows: max, not sum
    const breakerState = gauge("api_gateway_circuit_breaker_state", "Circuit breaker state per service (0 closed, 1 half-open, 2 open)", ["service"], "max")
    for (const service of serviceNames) breakerState.set({ service }, 0)
    const fallback = gauge("api_gateway_rate_limit_fallback_active", "1 while the rate limiter uses local buckets because Redis failed", [], "max")
    fallback.set(0)
    const websockets = gauge("api_gateway_websocket_connections", "Open proxied WebSocket connections", [])
    websockets.set(0)

    return Metrics.of({
      httpRequests: counter("api_gateway_http_requests_total", "HTTP requests by method, route template and status", ["method", "path", "status"]),
      httpDuration: histogram("api_gateway_http_request_duration_seconds", "HTTP request duration in seconds", ["method", "path"], latencyBuckets),
      httpRequestSize: histogram("api_gateway_http_request_size_bytes", "HTTP request body size in bytes", ["method", "path"], sizeBuckets),
      httpResponseSize: histogram("api_gateway_http_response_size_bytes", "HTTP response body size in bytes", ["method", "path"], sizeBuckets),
      activeConnections: gauge("api_gateway_active_connections", "Open client connections", []),
      breakerState,
      breakerTransitions: counter("api_gateway_circuit_breaker_transitions_total", "Circuit breaker state transitions", ["service", "from", "to"]),
      cacheHits: counter("api_gateway_cache_hits_total", "Response cache hits by rule prefix", ["endpoint"]),
      cacheMisses: counter("api_gateway_cache_misses_total", "Response cache misses by rule prefix", ["endpoint"]),
      cacheBypass: counter("api_gateway_cache_bypass_total", "Requests that bypassed the cache because its store failed", ["reason"]),
      rateLimitExceeded: counter("api_gateway_rate_limit_exceeded_total", "Requests refused by a rate limiter", ["endpoint", "limiter_type"]),
      rateLimitFallbackActive: fallback,
      upstreamRequests: counter("api_gateway_upstream_requests_total", "Upstream attempts by service, method and status", ["service", "method", "status"]),
      upstreamDuration: histogram("api_gateway_upstream_request_duration_seconds", "Upstream attempt duration in seconds", ["service", "method"], latencyBuckets),
      upstreamErrors: counter("api_gateway_upstream_errors_total", "Upstream failures by service and error type", ["service", "error_type"]),
      authAttempts: counter("api_gateway_authentication_attempts_total", "Authentication attempts by credential type", ["type"]),
      authFailures: counter("api_gateway_authentication_failures_total", "Authentication failures by credential type and reason", ["type", "reason"]),
      websocketConnections: websockets,
      redisErrors: counter("api_gateway_redis_errors_total", "Redis command failures by component", ["component"]),
      configReloads: counter("api_gateway_config_reloads_total", "Configuration reloads by result", ["result"]),
      render: clustered ? fromPrimary(registry) : Effect.promise(() => registry.metrics()).pipe(Effect.map((body) => ({ contentType: registry.contentType, body })))
    })
  })
)
