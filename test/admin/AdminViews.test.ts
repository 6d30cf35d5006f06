// Issue #11 §2: the read-only JSON views, after real traffic through the main listener.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { CacheView, ConfigView, RateLimitView, RouteView, ServiceView, StatusView } from "../../src/services/AdminStats.js"
import { admin, adminDoc, asAdmin } from "../support/AdminGateway.js"
import { apiKeys, jwtSecret } from "../support/AuthTokens.js"
import { realTime, send } from "../support/HttpClient.js"
import { gatewayAfter, json, type ProxyBackend, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { gatewayUrl } from "../support/TestGateway.js"

interface Backends {
  readonly market: ProxyBackend
  readonly orders: ProxyBackend
}
class Fixture extends Context.Tag("test/AdminViews/Backends")<Fixture, Backends>() {}

const redisPassword = "s3cret-redis-pass"
const tracePassword = "trace-pass-4711"

const Gateway = gatewayAfter(
  Fixture,
  Effect.gen(function* () {
    return {
      market: yield* startProxyBackend((_req, res) => void setTimeout(() => json(res, 200, { symbols: ["BTC"] }), 20)),
      orders: yield* startProxyBackend((_req, res) => json(res, 500, { error: "down" }))
    }
  }),
  (b) =>
    adminDoc({
      services: {
        market_data: serviceAt(b.market.url, { max_retries: 0 }),
        account_monitor: serviceAt(b.market.url, { max_retries: 0 }),
        order_execution: serviceAt(b.orders.url, { max_retries: 0 })
      },
      circuit_breaker: { min_requests: 3, failure_ratio: 0.6, timeout: "30s", interval: "60s" },
      cache: { enabled: true, rules: { "/api/v1/market-data/orderbook": { ttl: "30s" }, "/api/v1/dashboard": { ttl: "5s", shared: true } } },
      rate_limit: {
        enabled: true,
        redis_url: `redis://gwuser:${redisPassword}@127.0.0.1:6390/0`,
        global: { requests_per_second: 1000, burst: 2000 },
        per_ip: { requests_per_minute: 100_000, burst: 100_000 },
        endpoints: { "/api/v1/account": { requests_per_second: 0.01, burst: 2 } }
      },
      tracing: { endpoint: `http://tracer:${tracePassword}@127.0.0.1:4318/v1/traces` }
    })
)

const viaGateway = (path: string, key: string = apiKeys.operator) =>
  Effect.flatMap(gatewayUrl, (base) => send(`${base}${path}`, { headers: { "x-api-key": key } }))

const body = <A>(path: string) =>
  Effect.map(admin(path, { headers: asAdmin }), (res) => {
    assert.strictEqual(res.status, 200, `${path}: ${res.text.slice(0, 300)}`)
    return JSON.parse(res.text) as A
  })

describe("AdminViews", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("GET /admin/routes lists the route table with services and roles, the public endpoints and the WebSocket", () =>
      Effect.gen(function* () {
        const routes = yield* body<Array<RouteView>>("/admin/routes")
        const api = routes.filter((r) => r.path.startsWith("/api/"))
        assert.strictEqual(api.length, 33)
        assert.deepInclude(api, { method: "POST", path: "/api/v1/strategies", service: "strategy_engine", role: "admin", summary: "Create a strategy" })
        assert.deepInclude(api, { method: "GET", path: "/api/v1/orders/:id", service: "order_execution", role: "operator", summary: "An order by id" })
        assert.deepInclude(routes.map((r) => [r.method, r.path, r.role]), ["GET", "/openapi.json", "public"])
        assert.deepInclude(routes.map((r) => [r.path, r.service, r.role]), ["/ws", "dashboard_server", "viewer"])
      }))

    it.effect("GET /admin/services shows each service's URL, breaker state, window counts, last transition and latency", () =>
      Effect.gen(function* () {
        const { market, orders } = yield* Fixture
        for (let i = 0; i < 5; i++) assert.strictEqual((yield* viaGateway("/api/v1/market-data/symbols")).status, 200)
        for (let i = 0; i < 3; i++) assert.strictEqual((yield* viaGateway("/api/v1/orders")).status, 500)
        assert.strictEqual((yield* viaGateway("/api/v1/orders")).status, 503, "the breaker opened")

        const services = yield* body<Array<ServiceView>>("/admin/services")
        assert.deepStrictEqual(services.map((s) => s.name).sort(), ["account_monitor", "configuration", "dashboard_server", "market_data", "order_execution", "risk_manager", "strategy_engine"])
        const m = services.find((s) => s.name === "market_data")!
        assert.strictEqual(m.url, market.url)
        assert.strictEqual(m.breaker.state, "closed")
        assert.strictEqual(m.breaker.counts.requests, 5)
        assert.strictEqual(m.breaker.counts.total_successes, 5)
        assert.strictEqual(m.last_minute.requests, 5)
        assert.strictEqual(m.last_minute.errors, 0)
        assert.strictEqual(m.last_minute.error_ratio, 0)
        const p50 = m.last_minute.latency_p50_ms!
        const p99 = m.last_minute.latency_p99_ms!
        assert.isAtLeast(p50, 19, "the backend answers after 20 ms")
        assert.isBelow(p50, 2_000)
        assert.isAtLeast(p99, p50)
        assert.isAbove(m.last_minute.requests_per_second!, 0)

        const o = services.find((s) => s.name === "order_execution")!
        assert.strictEqual(o.url, orders.url)
        assert.strictEqual(o.breaker.state, "open")
        assert.strictEqual(o.breaker.last_transition?.from, "closed")
        assert.strictEqual(o.breaker.last_transition?.to, "open")
        assert.isBelow(Math.abs(Date.parse(o.breaker.last_transition!.at) - Date.now()), 60_000)
        assert.strictEqual(o.last_minute.requests, 3, "the refused fourth never reached the backend")
        assert.strictEqual(o.last_minute.errors, 3)
        assert.strictEqual(o.last_minute.error_ratio, 1)
        const idle = services.find((s) => s.name === "risk_manager")!
        assert.strictEqual(idle.last_minute.requests, 0)
        assert.isNull(idle.last_minute.latency_p50_ms)
        assert.isNull(idle.breaker.last_transition)
      }))

    it.effect("GET /admin/ratelimits shows the limits, the tokens left and the most refused client IPs", () =>
      Effect.gen(function* () {
        const statuses: Array<number> = []
        for (let i = 0; i < 5; i++) statuses.push((yield* viaGateway("/api/v1/account/balance", apiKeys.viewer)).status)
        assert.deepStrictEqual(statuses.filter((s) => s === 429).length, 3, `burst 2 admits two: ${statuses.join(",")}`)
        const r = yield* body<RateLimitView>("/admin/ratelimits")
        assert.isTrue(r.enabled)
        assert.strictEqual(r.store, "memory")
        assert.isFalse(r.fallback_active)
        assert.strictEqual(r.configured.global.burst, 2000)
        assert.strictEqual(r.configured.endpoints["/api/v1/account"]?.burst, 2)
        assert.isBelow(r.tokens.endpoints["/api/v1/account"]!, 1, "the endpoint bucket is empty")
        assert.isAbove(r.tokens.global, 1900)
        assert.isAtMost(r.tokens.global, 2000)
        assert.strictEqual(r.rejections.endpoint, 3)
        assert.strictEqual(r.rejections.total, 3)
        assert.deepStrictEqual(r.top_rejected_ips, [{ ip: "127.0.0.1", rejections: 3 }])
      }))

    it.effect("GET /admin/cache shows the store, entries, hit ratio and rules", () =>
      Effect.gen(function* () {
        const first = yield* viaGateway("/api/v1/market-data/orderbook/BTC")
        const second = yield* viaGateway("/api/v1/market-data/orderbook/BTC")
        assert.deepStrictEqual([first.headers.get("x-cache"), second.headers.get("x-cache")], ["MISS", "HIT"])
        const c = yield* body<CacheView>("/admin/cache")
        assert.strictEqual(c.store, "memory")
        assert.strictEqual(c.entries, 1)
        assert.strictEqual(c.hits, 1)
        assert.strictEqual(c.misses, 1)
        assert.strictEqual(c.hit_ratio, 0.5)
        assert.isNull(c.redis_reachable, "no Redis in use")
        assert.deepInclude(c.rules, { prefix: "/api/v1/market-data/orderbook", ttl_ms: 30_000, shared: false, hits: 1, misses: 1, hit_ratio: 0.5 })
        assert.deepInclude(c.rules, { prefix: "/api/v1/dashboard", ttl_ms: 5_000, shared: true, hits: 0, misses: 0, hit_ratio: null })
      }))

    it.effect("GET /admin/config shows the running config with every secret redacted, its hash and load time", () =>
      Effect.gen(function* () {
        const res = yield* admin("/admin/config", { headers: asAdmin })
        assert.strictEqual(res.status, 200)
        for (const secret of [jwtSecret, ...Object.values(apiKeys), redisPassword, tracePassword, "gwuser"]) {
          assert.notInclude(res.text, secret, "a secret in /admin/config")
        }
        const view = JSON.parse(res.text) as ConfigView & { config: Record<string, Record<string, unknown>> }
        assert.strictEqual(view.file_hash, "test")
        assert.isBelow(Math.abs(Date.parse(view.loaded_at) - Date.now()), 120_000)
        const auth = view.config.auth!
        assert.strictEqual(auth.jwt_secret, "[REDACTED]")
        assert.deepInclude(auth.api_keys as Array<unknown>, { key: "[REDACTED]", role: "admin", name: "admin-console" })
        assert.strictEqual(view.config.rate_limit!.redis_url, "redis://[REDACTED]@127.0.0.1:6390/0")
        assert.strictEqual(view.config.tracing!.endpoint, "http://[REDACTED]@127.0.0.1:4318/v1/traces")
        assert.deepStrictEqual(view.config.admin, { enabled: true, host: "127.0.0.1", port: 0 })
      }))

    it.effect("GET /admin/status gathers what the dashboard shows", () =>
      Effect.gen(function* () {
        const s = yield* body<StatusView>("/admin/status")
        assert.strictEqual(s.service, "api-gateway")
        assert.isString(s.version)
        assert.strictEqual(s.services.length, 7)
        assert.containsAllKeys(s, ["cache", "rate_limits", "config", "uptime_seconds", "git_commit"])
      }))
  })
})
