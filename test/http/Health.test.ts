import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { ServerResponse } from "node:http"
import { type BackendHandler, backendNamed, gatewayWithBackends } from "../support/HttpBackend.js"
import { eventually, realTime, send } from "../support/HttpClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

const services = ["market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"] as const

const answer = (status: number) => (res: ServerResponse) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify({ status: status === 200 ? "ok" : "broken" }))
}
const healthy: BackendHandler = (_req, res) => answer(200)(res)
const failing: BackendHandler = (_req, res) => answer(500)(res)
/** Never answers; the backend's scope closes the connection. */
const hanging: BackendHandler = () => {}

interface ServiceHealth {
  readonly status: string
  readonly error?: string
}

const health = Effect.gen(function* () {
  const res = yield* send(`${yield* gatewayUrl}/health`)
  assert.strictEqual(res.status, 200)
  return { ...res, body: res.json as { status: string; timestamp: string; services?: Record<string, ServiceHealth> } }
})

const assertUnhealthy = (entry: ServiceHealth | undefined, name: string) => {
  assert.strictEqual(entry?.status, "unhealthy", name)
  assert.isString(entry?.error, `${name} names its error`)
  assert.isAbove(entry?.error?.length ?? 0, 0, `${name} names its error`)
}

describe("Health", () => {
  layer(
    gatewayWithBackends({ up: healthy, down: failing }, ({ up, down }, closed) => ({
      health: { check_services: true, service_timeout: "2s" },
      services: {
        ...Object.fromEntries(services.map((name) => [name, { url: closed }])),
        market_data: { url: up.url },
        order_execution: { url: down.url }
      }
    })),
    realTime
  )((it) => {
    it.effect("reports every service, healthy or unhealthy with its error, and the gateway degraded", () =>
      Effect.gen(function* () {
        const { body } = yield* health
        assert.strictEqual(body.status, "degraded")
        assert.isString(body.timestamp)
        assert.isFalse(Number.isNaN(Date.parse(body.timestamp)), `timestamp ${body.timestamp}`)
        const reported = body.services ?? {}
        assert.deepStrictEqual(Object.keys(reported).sort(), [...services].sort())
        assert.strictEqual(reported.market_data?.status, "healthy")
        assert.notProperty(reported.market_data ?? {}, "error")
        assertUnhealthy(reported.order_execution, "order_execution (answers 500)")
        for (const name of services.filter((n) => n !== "market_data" && n !== "order_execution")) {
          assertUnhealthy(reported[name], `${name} (closed port)`)
        }
        const up = yield* backendNamed("up")
        const down = yield* backendNamed("down")
        assert.isAtLeast(up.hits("/health"), 1, "the healthy backend was probed on its health path")
        assert.isAtLeast(down.hits("/health"), 1, "the failing backend was probed on its health path")
      }))
  })

  layer(
    gatewayWithBackends({ backend: healthy }, ({ backend }) => ({
      health: { check_services: true, service_timeout: "2s" },
      services: Object.fromEntries(services.map((name) => [name, { url: backend.url, health_path: `/health/${name}` }]))
    })),
    realTime
  )((it) => {
    it.effect("probes each service once for calls within a second, again after the second", () =>
      Effect.gen(function* () {
        const backend = yield* backendNamed("backend")
        const probes = () => services.map((name) => backend.hits(`/health/${name}`))
        const started = performance.now()
        const [first, second] = yield* Effect.all([health, health], { concurrency: 2 })
        const third = yield* health
        for (const reply of [first, second, third]) assert.strictEqual(reply.body.status, "ok")
        assert.deepStrictEqual(probes(), services.map(() => 1), "one probe per service for three calls")
        assert.strictEqual(backend.requests.length, services.length)

        yield* eventually(
          Effect.gen(function* () {
            yield* health
            assert.deepStrictEqual(probes(), services.map(() => 2))
          }),
          { timeoutMs: 3_000, intervalMs: 100 }
        )
        const elapsed = performance.now() - started
        assert.isAtLeast(elapsed, 900, "the results were kept for about a second")
        assert.isBelow(elapsed, 2_500, "and probed again soon after it")
      }))
  })

  layer(
    gatewayWithBackends({ stuck: hanging, backend: healthy }, ({ stuck, backend }) => ({
      health: { check_services: true, service_timeout: "300ms" },
      services: { ...Object.fromEntries(services.map((name) => [name, { url: backend.url }])), market_data: { url: stuck.url } }
    })),
    realTime
  )((it) => {
    it.effect("reports a backend whose health check hangs unhealthy within service_timeout", () =>
      Effect.gen(function* () {
        const reply = yield* health
        assert.isBelow(reply.elapsedMs, 300 + 1_500, "answered within service_timeout plus slack")
        assert.isAtLeast(reply.elapsedMs, 250, "after waiting for the service_timeout")
        assert.strictEqual(reply.body.status, "degraded")
        assertUnhealthy(reply.body.services?.market_data, "market_data (hangs)")
        for (const name of services.filter((n) => n !== "market_data")) assert.strictEqual(reply.body.services?.[name]?.status, "healthy", name)
        const stuck = yield* backendNamed("stuck")
        assert.strictEqual(stuck.hits("/health"), 1)
      }))
  })

  layer(
    gatewayWithBackends({ backend: failing }, ({ backend }) => ({
      health: { check_services: false },
      services: Object.fromEntries(services.map((name) => [name, { url: backend.url }]))
    })),
    realTime
  )((it) => {
    it.effect("without check_services reports ok with no services map and probes nothing", () =>
      Effect.gen(function* () {
        const { body } = yield* health
        assert.strictEqual(body.status, "ok")
        assert.isString(body.timestamp)
        assert.notProperty(body, "services")
        const backend = yield* backendNamed("backend")
        assert.strictEqual(backend.requests.length, 0)
      }))
  })
})
