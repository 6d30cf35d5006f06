import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { CapturedLogs } from "../support/CapturingSink.js"
import { eventually, realTime } from "../support/HttpClient.js"
import { assertErrorReply } from "../support/HttpErrors.js"
import { fastRetry, gatewayAfter, json, type ProxyBackend, type Respond, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { errorReplyOf, exchange, metricValue } from "../support/ProxyClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

// Each test drives its own service, so each has its own breaker.
interface Backends {
  readonly market: ProxyBackend
  readonly account: ProxyBackend
  readonly dashboard: ProxyBackend
  readonly strategies: ProxyBackend
  readonly risk: ProxyBackend
}
class Fixture extends Context.Tag("test/ProxyBreaker/Backends")<Fixture, Backends>() {}

const failing: Respond = (_req, res, seen) => json(res, 500, { error: "backend down", attempt: seen.attempt + 1 })
const unavailable: Respond = (_req, res, seen) => json(res, 503, { error: "busy", attempt: seen.attempt + 1 })
const healthy: Respond = (_req, res) => json(res, 200, { ok: true })

const acquire = Effect.gen(function* () {
  return {
    market: yield* startProxyBackend(failing),
    account: yield* startProxyBackend(failing),
    dashboard: yield* startProxyBackend(failing),
    strategies: yield* startProxyBackend(unavailable),
    risk: yield* startProxyBackend(failing)
  }
})

const Gateway = gatewayAfter(Fixture, acquire, (b) => ({
  services: {
    market_data: serviceAt(b.market.url, { max_retries: 0 }),
    account_monitor: serviceAt(b.account.url, { max_retries: 0 }),
    dashboard_server: serviceAt(b.dashboard.url, { max_retries: 0 }),
    strategy_engine: serviceAt(b.strategies.url, { max_retries: 5 }),
    risk_manager: serviceAt(b.risk.url, { max_retries: 0 })
  },
  retry: fastRetry,
  circuit_breaker: {
    min_requests: 3,
    failure_ratio: 0.6,
    timeout: "300ms",
    interval: "60s",
    services: {
      // long enough to look at the open breaker on a loaded machine; dashboard_server keeps 300 ms
      market_data: { timeout: "10s" },
      risk_manager: { timeout: "10s" },
      account_monitor: { timeout: "10s" },
      strategy_engine: { min_requests: 2, failure_ratio: 0.5, timeout: "10s" }
    }
  },
  health: { readiness_breakers: "any" }
}))

const get = (path: string) => Effect.flatMap(gatewayUrl, (base) => exchange(`${base}${path}`))

const gaugeOf = (service: string) =>
  Effect.flatMap(gatewayUrl, (base) =>
    metricValue(base, "api_gateway_circuit_breaker_state", "api_gateway_circuit_breaker_state", { service }))

const transitionsOf = (service: string, from: string, to: string) =>
  Effect.flatMap(gatewayUrl, (base) =>
    metricValue(base, "api_gateway_circuit_breaker_transitions_total", "api_gateway_circuit_breaker_transitions_total", { service, from, to }))

/** Three 500s through the gateway: min_requests with a failure ratio of 1. */
const trip = (path: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 3; i++) {
      const res = yield* get(path)
      assert.strictEqual(res.status, 500, "the backend's 500 is passed through while closed")
      assert.strictEqual(res.json?.error, "backend down")
    }
  })

describe("Proxy", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("opens after min_requests failures: the next request gets 503 with Retry-After, the backend is not hit", () =>
      Effect.gen(function* () {
        const { market } = yield* Fixture
        yield* trip("/api/v1/market-data/symbols")
        assert.strictEqual(market.seen.length, 3)
        const res = yield* get("/api/v1/market-data/symbols")
        assertErrorReply(errorReplyOf(res), 503, "Service temporarily unavailable")
        assert.strictEqual(res.headers.get("retry-after"), "10", "whole seconds until half-open (timeout 10s)")
        assert.strictEqual(market.seen.length, 3, "an open breaker does not touch the backend")
      }))

    it.effect("logs the transition the first attempt's outcome causes, at warn, with service, from and to", () =>
      Effect.gen(function* () {
        yield* trip("/api/v1/risk/status")
        const line = yield* eventually(Effect.flatMap(CapturedLogs, (lines) => {
          const found = lines.find((l) => l.message === "circuit breaker state changed" && l.fields.service === "risk_manager")
          return found === undefined ? Effect.fail("no transition logged for risk_manager") : Effect.succeed(found)
        }), { timeoutMs: 2_000, intervalMs: 20 })
        assert.strictEqual(line.level, "warn")
        assert.strictEqual(line.fields.from, "closed")
        assert.strictEqual(line.fields.to, "open")
      }))

    it.effect("readiness (rule any) answers 503 naming the service, and /health lists the open breaker", () =>
      Effect.gen(function* () {
        const { account } = yield* Fixture
        yield* trip("/api/v1/account/balance")
        assert.strictEqual((yield* get("/api/v1/account/balance")).status, 503)
        assert.strictEqual(account.seen.length, 3)

        const ready = yield* get("/health/readiness")
        assert.strictEqual(ready.status, 503)
        assert.strictEqual(ready.json?.status, "not ready")
        assert.include(ready.json?.reasons as Array<string>, "circuit breaker open for account_monitor")

        // /health keeps one result for 1 s: wait for one taken after the trip
        yield* eventually(Effect.gen(function* () {
          const health = yield* get("/health")
          assert.strictEqual(health.status, 200)
          assert.strictEqual(health.json?.status, "degraded")
          assert.include(health.json?.open_circuit_breakers as Array<string>, "account_monitor")
        }), { timeoutMs: 2_500, intervalMs: 100 })
        assert.strictEqual(yield* gaugeOf("account_monitor"), 2)
      }))

    it.effect("after its timeout lets trial requests through to a recovered backend, and closes", () =>
      Effect.gen(function* () {
        const { dashboard } = yield* Fixture
        yield* trip("/api/v1/dashboard/status")
        assert.strictEqual((yield* get("/api/v1/dashboard/status")).status, 503)
        assert.strictEqual(yield* gaugeOf("dashboard_server"), 2)
        dashboard.respond = healthy

        // open for 300 ms: fail-fast 503s until the first trial request reaches the backend
        const first = yield* eventually(Effect.gen(function* () {
          const res = yield* get("/api/v1/dashboard/status")
          assert.strictEqual(res.status, 200)
          return res
        }), { timeoutMs: 3_000, intervalMs: 50 })
        assert.deepStrictEqual(first.json, { ok: true })
        assert.strictEqual(dashboard.seen.length, 4, "exactly one request reached the backend since it opened")
        assert.strictEqual(yield* gaugeOf("dashboard_server"), 1, "half-open after one successful trial of max_requests 3")

        for (let i = 0; i < 2; i++) assert.strictEqual((yield* get("/api/v1/dashboard/status")).status, 200)
        assert.strictEqual(yield* gaugeOf("dashboard_server"), 0, "closed after max_requests successes")
        assert.strictEqual(yield* transitionsOf("dashboard_server", "closed", "open"), 1)
        assert.strictEqual(yield* transitionsOf("dashboard_server", "open", "half_open"), 1)
        assert.strictEqual(yield* transitionsOf("dashboard_server", "half_open", "closed"), 1)
        assert.strictEqual(dashboard.seen.length, 6)
      }))

    it.effect("stops retrying when the breaker opens, passing the last backend response through", () =>
      Effect.gen(function* () {
        const { strategies } = yield* Fixture
        const res = yield* get("/api/v1/strategies/9")
        // min_requests 2, ratio 0.5: the second 503 opens it, so no third attempt of the 1 + 5 allowed
        assert.strictEqual(strategies.seen.length, 2)
        assert.strictEqual(res.status, 503)
        assert.deepStrictEqual(res.json, { error: "busy", attempt: 2 })
        assert.strictEqual(yield* gaugeOf("strategy_engine"), 2)
      }))
  })
})
