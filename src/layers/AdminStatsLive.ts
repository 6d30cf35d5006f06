// The admin API's views, read from the services that own the state: breakers, stores,
// the latency window, and prom-client's counters for what is only counted there.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Counter } from "prom-client"
import { redactConfig } from "../domain/RedactConfig.js"
import { apiRoutes } from "../domain/RouteTable.js"
import { publicEndpoints } from "../http/Plan.js"
import { AdminStats, type CacheView, type RateLimitView, type RouteView, type ServiceView } from "../services/AdminStats.js"
import { Breaker } from "../services/Breaker.js"
import { BuildInfo } from "../services/BuildInfo.js"
import { Cache } from "../services/Cache.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Metrics } from "../services/Metrics.js"
import { RateLimiter } from "../services/RateLimiter.js"
import { UpstreamStats } from "../services/UpstreamStats.js"

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits
const ratio = (part: number, whole: number) => (whole === 0 ? null : round(part / whole, 4))

/** A counter's values summed by one label, e.g. cache hits by rule prefix. */
const sumsBy = <L extends string>(counter: Counter<L>, label: L) =>
  Effect.promise(() => counter.get()).pipe(Effect.map(({ values }) => {
    const sums = new Map<string, number>()
    for (const { labels, value } of values) {
      const key = String(labels[label] ?? "")
      sums.set(key, (sums.get(key) ?? 0) + value)
    }
    return sums
  }))

const total = (sums: ReadonlyMap<string, number>) => [...sums.values()].reduce((a, b) => a + b, 0)

export const AdminStatsLive = Layer.effect(
  AdminStats,
  Effect.gen(function* () {
    const gatewayConfig = yield* GatewayConfig
    const breaker = yield* Breaker
    const cache = yield* Cache
    const limiter = yield* RateLimiter
    const metrics = yield* Metrics
    const upstream = yield* UpstreamStats
    const build = yield* BuildInfo
    const clock = yield* Effect.clock
    const startedAt = clock.unsafeCurrentTimeMillis()

    const routes = Effect.map(gatewayConfig.current, ({ config }): ReadonlyArray<RouteView> => [
      ...apiRoutes.map((r) => ({ method: r.method, path: r.template, service: r.service, role: r.role, summary: r.summary })),
      ...(config.websocket.enabled
        ? [{ method: "GET", path: config.websocket.path, service: config.websocket.service, role: "viewer", summary: "WebSocket (Upgrade: websocket)" }]
        : []),
      ...publicEndpoints(config).map((e) => ({ method: e.method, path: e.template, service: undefined, role: "public", summary: `gateway ${e.name}` }))
    ])

    const services = Effect.gen(function* () {
      const { config } = yield* gatewayConfig.current
      const minutes = new Map((yield* upstream.lastMinute).map((m) => [m.service, m]))
      return (yield* breaker.view).map((b): ServiceView => {
        const m = minutes.get(b.service)!
        const svc = config.services[b.service]
        return {
          name: b.service,
          url: svc.url,
          timeout_ms: svc.timeout,
          max_retries: svc.max_retries,
          breaker: {
            state: b.state,
            counts: {
              requests: b.counts.requests,
              total_successes: b.counts.totalSuccesses,
              total_failures: b.counts.totalFailures,
              consecutive_successes: b.counts.consecutiveSuccesses,
              consecutive_failures: b.counts.consecutiveFailures
            },
            last_transition: b.lastTransition === undefined
              ? null
              : { from: b.lastTransition.from, to: b.lastTransition.to, at: new Date(b.lastTransition.at).toISOString() }
          },
          last_minute: {
            window_seconds: m.windowSeconds,
            requests: m.requests,
            errors: m.errors,
            requests_per_second: round(m.requests / m.windowSeconds, 2),
            error_ratio: ratio(m.errors, m.requests) ?? 0,
            latency_p50_ms: m.p50Ms === undefined ? null : round(m.p50Ms, 2),
            latency_p99_ms: m.p99Ms === undefined ? null : round(m.p99Ms, 2)
          }
        }
      })
    })

    const rateLimits = Effect.gen(function* () {
      const { config } = yield* gatewayConfig.current
      const r = config.rate_limit
      const stats = yield* limiter.stats
      const byType = yield* sumsBy(metrics.rateLimitExceeded, "limiter_type")
      const view: RateLimitView = {
        enabled: r.enabled,
        store: stats.store,
        fallback_active: stats.fallback,
        configured: { global: r.global, per_ip: r.per_ip, endpoints: r.endpoints, exempt_paths: r.exempt_paths },
        tokens: {
          global: round(stats.globalTokens, 2),
          endpoints: Object.fromEntries(stats.endpointTokens.map((e) => [e.prefix, round(e.tokens, 2)]))
        },
        rejections: {
          total: total(byType),
          global: byType.get("global") ?? 0,
          ip: byType.get("ip") ?? 0,
          endpoint: byType.get("endpoint") ?? 0
        },
        top_rejected_ips: stats.topRejected
      }
      return view
    })

    const cacheView = Effect.gen(function* () {
      const { config } = yield* gatewayConfig.current
      const described = yield* cache.describe
      const hits = yield* sumsBy(metrics.cacheHits, "endpoint")
      const misses = yield* sumsBy(metrics.cacheMisses, "endpoint")
      const allHits = total(hits)
      const allMisses = total(misses)
      const view: CacheView = {
        enabled: config.cache.enabled,
        store: described.store,
        entries: described.entries ?? null,
        max_entries: described.store === "memory" ? config.cache.max_entries : null,
        hits: allHits,
        misses: allMisses,
        hit_ratio: ratio(allHits, allHits + allMisses),
        redis_reachable: described.store === "redis" ? described.reachable : null,
        rules: Object.entries(config.cache.rules).map(([prefix, rule]) => {
          const h = hits.get(prefix) ?? 0
          const m = misses.get(prefix) ?? 0
          return { prefix, ttl_ms: rule.ttl ?? config.cache.default_ttl, shared: rule.shared, hits: h, misses: m, hit_ratio: ratio(h, h + m) }
        })
      }
      return view
    })

    const configView = Effect.map(gatewayConfig.current, (s) => ({
      path: s.path,
      file_hash: s.fileHash,
      loaded_at: s.loadedAt.toISOString(),
      config: redactConfig(s.config)
    }))

    const status = Effect.gen(function* () {
      const snapshot = yield* gatewayConfig.current
      return {
        service: "api-gateway" as const,
        version: build.version,
        git_commit: build.git_commit,
        uptime_seconds: Math.floor((clock.unsafeCurrentTimeMillis() - startedAt) / 1000),
        config: { file_hash: snapshot.fileHash, loaded_at: snapshot.loadedAt.toISOString() },
        services: yield* services,
        cache: yield* cacheView,
        rate_limits: yield* rateLimits
      }
    })

    return AdminStats.of({ routes, services, rateLimits, cache: cacheView, config: configView, status })
  })
)
