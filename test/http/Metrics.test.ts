import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { apiRoutes } from "../../src/domain/RouteTable.js"
import { backendNamed, gatewayWithBackends, okHandler } from "../support/HttpBackend.js"
import { eventually, realTime, send } from "../support/HttpClient.js"
import { type Family, labelNames, parsePrometheus, samplesOf } from "../support/HttpPrometheus.js"
import { gatewayUrl } from "../support/TestGateway.js"

const services = ["market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"]

/** The seed's section 5, names and label names exact. */
const seedMetrics: ReadonlyArray<readonly [name: string, type: string, labels: ReadonlyArray<string>]> = [
  ["api_gateway_http_requests_total", "counter", ["method", "path", "status"]],
  ["api_gateway_http_request_duration_seconds", "histogram", ["method", "path"]],
  ["api_gateway_http_request_size_bytes", "histogram", ["method", "path"]],
  ["api_gateway_http_response_size_bytes", "histogram", ["method", "path"]],
  ["api_gateway_active_connections", "gauge", []],
  ["api_gateway_circuit_breaker_state", "gauge", ["service"]],
  ["api_gateway_cache_hits_total", "counter", ["endpoint"]],
  ["api_gateway_cache_misses_total", "counter", ["endpoint"]],
  ["api_gateway_rate_limit_exceeded_total", "counter", ["endpoint", "limiter_type"]],
  ["api_gateway_upstream_requests_total", "counter", ["service", "method", "status"]],
  ["api_gateway_upstream_request_duration_seconds", "histogram", ["service", "method"]],
  ["api_gateway_upstream_errors_total", "counter", ["service", "error_type"]],
  ["api_gateway_authentication_attempts_total", "counter", ["type"]],
  ["api_gateway_authentication_failures_total", "counter", ["type", "reason"]]
]

/** SPEC §5's additions. */
const specMetrics: typeof seedMetrics = [
  ["api_gateway_circuit_breaker_transitions_total", "counter", ["service", "from", "to"]],
  ["api_gateway_websocket_connections", "gauge", []],
  ["api_gateway_redis_errors_total", "counter", ["component"]],
  ["api_gateway_rate_limit_fallback_active", "gauge", []],
  ["api_gateway_cache_bypass_total", "counter", ["reason"]],
  ["api_gateway_config_reloads_total", "counter", ["result"]]
]

const scrape = Effect.gen(function* () {
  const res = yield* send(`${yield* gatewayUrl}/metrics`)
  assert.strictEqual(res.status, 200)
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/)
  return parsePrometheus(res.text)
})

const familyOf = (families: Map<string, Family>, name: string): Family => {
  const family = families.get(name)
  assert.isDefined(family, `metric ${name} is exposed`)
  return family!
}

const assertDeclared = (families: Map<string, Family>, [name, type, labels]: (typeof seedMetrics)[number]) => {
  const family = familyOf(families, name)
  assert.strictEqual(family.type, type, `# TYPE ${name}`)
  assert.isString(family.help, `# HELP ${name}`)
  if (family.samples.length > 0) assert.deepStrictEqual(labelNames(family), [...labels].sort(), `label names of ${name}`)
}

const get = (path: string, init?: RequestInit) => Effect.flatMap(gatewayUrl, (base) => send(`${base}${path}`, init))

const total = (family: Family | undefined, labels: Record<string, string>) =>
  samplesOf(family, "api_gateway_http_requests_total", labels).reduce((sum, s) => sum + s.value, 0)

// Every service answers 200, so the breakers stay closed whatever the proxy does.
const gateway = gatewayWithBackends({ backend: okHandler }, ({ backend }) => ({
  services: Object.fromEntries(services.map((name) => [name, { url: backend.url, max_retries: 0 }]))
}))

describe("Metrics", () => {
  layer(gateway, realTime)((it) => {
    it.effect("declares every metric of the seed's section 5 with its type and, once sampled, its exact label names", () =>
      Effect.gen(function* () {
        yield* get("/api/v1/orders/42")
        yield* get("/nope/123")
        const families = yield* eventually(Effect.tap(scrape, (f) =>
          assert.isAbove(total(f.get("api_gateway_http_requests_total"), { path: "unmatched" }), 0)))
        for (const metric of seedMetrics) assertDeclared(families, metric)
        for (const name of ["api_gateway_http_requests_total", "api_gateway_http_request_duration_seconds", "api_gateway_http_request_size_bytes", "api_gateway_http_response_size_bytes", "api_gateway_active_connections", "api_gateway_circuit_breaker_state"]) {
          assert.isAbove(familyOf(families, name).samples.length, 0, `${name} has samples after requests`)
        }
        const duration = familyOf(families, "api_gateway_http_request_duration_seconds")
        assert.isAbove(samplesOf(duration, "api_gateway_http_request_duration_seconds_bucket", { le: "+Inf" }).length, 0)
      }))

    it.effect("declares SPEC §5's additional metrics with their types and label names", () =>
      Effect.gen(function* () {
        const families = yield* scrape
        for (const metric of specMetrics) assertDeclared(families, metric)
        assert.deepStrictEqual(samplesOf(families.get("api_gateway_rate_limit_fallback_active"), "api_gateway_rate_limit_fallback_active").map((s) => s.value), [0])
        assert.deepStrictEqual(samplesOf(families.get("api_gateway_websocket_connections"), "api_gateway_websocket_connections").map((s) => s.value), [0])
      }))

    it.effect("exposes Node process metrics", () =>
      Effect.gen(function* () {
        const families = yield* scrape
        for (const name of ["process_cpu_user_seconds_total", "nodejs_heap_size_total_bytes"]) {
          const family = familyOf(families, name)
          assert.isAbove(family.samples.length, 0, `${name} has a sample`)
          assert.isAtLeast(family.samples[0]!.value, 0)
        }
        assert.isAbove(samplesOf(families.get("nodejs_heap_size_total_bytes"), "nodejs_heap_size_total_bytes")[0]?.value ?? 0, 0)
      }))

    it.effect("shows a blocked event loop in the lag metrics", () =>
      Effect.gen(function* () {
        yield* scrape // each scrape starts the lag histogram afresh, and its first sample is dropped
        yield* Effect.sleep("250 millis")
        const until = Date.now() + 400
        while (Date.now() < until) {
          // the event loop blocked for 400 ms: the sampling timer's next tick is ~400 ms after the last
        }
        yield* Effect.sleep("250 millis") // a few samples after the stall
        const families = yield* scrape
        const max = samplesOf(families.get("nodejs_eventloop_lag_max_seconds"), "nodejs_eventloop_lag_max_seconds")[0]?.value ?? 0
        assert.isAtLeast(max, 0.35, "the stall's delay is recorded")
        assert.isBelow(max, 5)
      }))

    it.effect("counts each request once under its route template and status", () =>
      Effect.gen(function* () {
        const first = yield* get("/api/v1/strategies/7/status")
        yield* get("/api/v1/strategies/8/status")
        const families = yield* eventually(Effect.tap(scrape, (f) =>
          assert.strictEqual(total(f.get("api_gateway_http_requests_total"), { method: "GET", path: "/api/v1/strategies/:id/status" }), 2)))
        const family = families.get("api_gateway_http_requests_total")
        assert.strictEqual(total(family, { method: "GET", path: "/api/v1/strategies/:id/status", status: String(first.status) }), 2)
        const count = samplesOf(families.get("api_gateway_http_request_duration_seconds"), "api_gateway_http_request_duration_seconds_count", {
          method: "GET",
          path: "/api/v1/strategies/:id/status"
        })
        assert.deepStrictEqual(count.map((s) => s.value), [2])
      }))

    it.effect("labels paths with the route template or unmatched, never the raw path", () =>
      Effect.gen(function* () {
        yield* get("/api/v1/orders/42")
        yield* get("/nope/123")
        yield* get("/api/v1/market-data/ticker/BTC-USD")
        const families = yield* eventually(Effect.tap(scrape, (f) => {
          const requests = f.get("api_gateway_http_requests_total")
          assert.isAbove(total(requests, { method: "GET", path: "/api/v1/orders/:id" }), 0)
          assert.isAbove(total(requests, { method: "GET", path: "unmatched", status: "404" }), 0)
          assert.isAbove(total(requests, { method: "GET", path: "/api/v1/market-data/ticker/:symbol" }), 0)
        }))
        const allowed = new Set([...apiRoutes.map((r) => r.template), "/health", "/health/liveness", "/health/readiness", "/metrics", "/version", "/ws", "unmatched"])
        for (const family of families.values()) {
          for (const sample of family.samples) {
            for (const label of ["path", "endpoint"]) {
              const value = sample.labels[label]
              if (value !== undefined) assert.isTrue(allowed.has(value), `${sample.name}{${label}="${value}"} is not a route template`)
            }
          }
        }
      }))

    it.effect("labels a non-standard method OTHER", () =>
      Effect.gen(function* () {
        const res = yield* get("/api/v1/orders", { method: "PROPFIND" })
        assert.strictEqual(res.status, 405)
        const families = yield* eventually(Effect.tap(scrape, (f) =>
          assert.isAbove(total(f.get("api_gateway_http_requests_total"), { method: "OTHER", status: "405" }), 0)))
        for (const family of families.values()) {
          for (const sample of family.samples) assert.notStrictEqual(sample.labels.method, "PROPFIND", sample.name)
        }
      }))

    it.effect("has one closed (0) breaker state sample per service", () =>
      Effect.gen(function* () {
        const state = familyOf(yield* scrape, "api_gateway_circuit_breaker_state")
        const samples = samplesOf(state, "api_gateway_circuit_breaker_state")
        assert.deepStrictEqual(samples.map((s) => s.labels.service).sort(), [...services].sort())
        for (const s of samples) assert.strictEqual(s.value, 0, s.labels.service)
      }))

    it.effect("counts the open client connection of the scrape itself", () =>
      Effect.gen(function* () {
        const active = samplesOf(familyOf(yield* scrape, "api_gateway_active_connections"), "api_gateway_active_connections")
        assert.strictEqual(active.length, 1)
        assert.isAtLeast(active[0]!.value, 1)
      }))

    it.effect("records upstream requests with the seed's label names", () =>
      Effect.gen(function* () {
        const res = yield* get("/api/v1/account/balance")
        const backend = yield* backendNamed("backend")
        assert.strictEqual(res.status, 200)
        assert.strictEqual(backend.hits("/api/v1/account/balance"), 1)
        const families = yield* eventually(Effect.tap(scrape, (f) =>
          assert.isAbove(samplesOf(f.get("api_gateway_upstream_requests_total"), "api_gateway_upstream_requests_total", { service: "account_monitor" }).length, 0)))
        assert.deepStrictEqual(labelNames(familyOf(families, "api_gateway_upstream_requests_total")), ["method", "service", "status"])
        assert.deepStrictEqual(labelNames(familyOf(families, "api_gateway_upstream_request_duration_seconds")), ["method", "service"])
      }))
  })
})
