// Issue #11 §3: the actions (breaker reset, cache purge, reload), each audited in the log
// with its caller. The real reload of a file is in AdminReload.test.ts.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { admin, adminDoc, adminJwt, asAdmin } from "../support/AdminGateway.js"
import { apiKeys } from "../support/AuthTokens.js"
import { CapturedLogs } from "../support/CapturingSink.js"
import { realTime, send } from "../support/HttpClient.js"
import { parsePrometheus, samplesOf } from "../support/HttpPrometheus.js"
import { gatewayAfter, json, type ProxyBackend, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { gatewayUrl } from "../support/TestGateway.js"

class Fixture extends Context.Tag("test/AdminActions/Backends")<Fixture, { readonly failing: ProxyBackend; readonly market: ProxyBackend }>() {}

const rule = "/api/v1/market-data"

const Gateway = gatewayAfter(
  Fixture,
  Effect.gen(function* () {
    return {
      failing: yield* startProxyBackend((_req, res) => json(res, 500, { error: "down" })),
      market: yield* startProxyBackend((_req, res) => json(res, 200, { price: 1 }))
    }
  }),
  (b) =>
    adminDoc({
      services: { market_data: serviceAt(b.market.url, { max_retries: 0 }), order_execution: serviceAt(b.failing.url, { max_retries: 0 }) },
      circuit_breaker: { min_requests: 3, failure_ratio: 0.6, timeout: "60s", interval: "60s" },
      cache: { enabled: true, rules: { [rule]: { ttl: "60s" } } }
    })
)

const viaGateway = (path: string) =>
  Effect.flatMap(gatewayUrl, (base) => send(`${base}${path}`, { headers: { "x-api-key": apiKeys.operator } }))

const auditLines = (action: string) =>
  Effect.map(CapturedLogs, (lines) => lines.filter((l) => l.message === "admin action" && l.fields.action === action))

const breakerState = (service: string) =>
  Effect.map(admin("/admin/services", { headers: asAdmin }), (res) =>
    (JSON.parse(res.text) as Array<{ name: string; breaker: { state: string } }>).find((s) => s.name === service)!.breaker.state)

describe("AdminActions", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("POST /admin/services/:name/reset closes an open breaker, audited with the caller", () =>
      Effect.gen(function* () {
        const { failing } = yield* Fixture
        for (let i = 0; i < 3; i++) yield* viaGateway("/api/v1/orders")
        assert.strictEqual((yield* viaGateway("/api/v1/orders")).status, 503)
        assert.strictEqual(yield* breakerState("order_execution"), "open")
        const hits = failing.seen.length

        const res = yield* admin("/admin/services/order_execution/reset", { method: "POST", headers: asAdmin })
        assert.strictEqual(res.status, 200, res.text)
        assert.deepStrictEqual(res.json, { service: "order_execution", previous_state: "open", state: "closed" })
        assert.strictEqual(yield* breakerState("order_execution"), "closed")
        assert.strictEqual((yield* viaGateway("/api/v1/orders")).status, 500, "requests reach the backend again")
        assert.strictEqual(failing.seen.length, hits + 1)

        const [line] = yield* auditLines("reset-breaker")
        assert.strictEqual(line?.level, "info")
        assert.strictEqual(line?.fields.caller, "admin-console")
        assert.strictEqual(line?.fields.target, "order_execution")
        assert.strictEqual(line?.fields.request_id, res.headers.get("x-request-id"))
      }))

    it.effect("a reset by JWT is audited with the token's user; an unknown service is 404", () =>
      Effect.gen(function* () {
        const res = yield* admin("/admin/services/market_data/reset", { method: "POST", headers: yield* adminJwt })
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.json?.previous_state, "closed")
        const lines = yield* auditLines("reset-breaker")
        assert.strictEqual(lines.at(-1)?.fields.caller, "root")
        assert.strictEqual(lines.at(-1)?.fields.target, "market_data")
        const unknown = yield* admin("/admin/services/nope/reset", { method: "POST", headers: asAdmin })
        assert.strictEqual(unknown.status, 404)
        assert.strictEqual(unknown.json?.error, "Not found")
        assert.strictEqual((yield* auditLines("reset-breaker")).length, lines.length, "a refused action is not an action")
      }))

    it.effect("POST /admin/cache/purge drops the entries of one rule, audited", () =>
      Effect.gen(function* () {
        const path = `${rule}/ticker/BTC`
        assert.strictEqual((yield* viaGateway(path)).headers.get("x-cache"), "MISS")
        assert.strictEqual((yield* viaGateway(path)).headers.get("x-cache"), "HIT")
        const res = yield* admin("/admin/cache/purge", { method: "POST", headers: asAdmin, body: { prefix: rule } })
        assert.strictEqual(res.status, 200, res.text)
        assert.deepStrictEqual(res.json, { prefix: rule, purged: 1 })
        assert.strictEqual((yield* viaGateway(path)).headers.get("x-cache"), "MISS", "the entry is gone")
        const [line] = yield* auditLines("purge-cache")
        assert.strictEqual(line?.fields.caller, "admin-console")
        assert.strictEqual(line?.fields.target, rule)
        assert.strictEqual(line?.fields.purged, 1)
      }))

    it.effect("a purge needs a JSON body naming a configured rule", () =>
      Effect.gen(function* () {
        for (const body of ["not json", {}, { prefix: 7 }]) {
          const res = yield* admin("/admin/cache/purge", { method: "POST", headers: asAdmin, body })
          assert.strictEqual(res.status, 400, JSON.stringify(body))
          assert.strictEqual(res.json?.error, "Bad request")
        }
        const unknown = yield* admin("/admin/cache/purge", { method: "POST", headers: asAdmin, body: { prefix: "/api/v1/orders" } })
        assert.strictEqual(unknown.status, 404)
      }))

    it.effect("POST /admin/reload answers the outcome: a literal config cannot be read again, so 422 with the problems", () =>
      Effect.gen(function* () {
        const res = yield* admin("/admin/reload", { method: "POST", headers: asAdmin })
        assert.strictEqual(res.status, 422)
        assert.strictEqual(res.json?.error, "Config reload refused")
        assert.strictEqual(res.json?.result, "failure")
        assert.deepStrictEqual(res.json?.problems, ["a literal test config has no file to reload"])
        const [line] = yield* auditLines("reload")
        assert.strictEqual(line?.fields.result, "failure")
        assert.strictEqual(line?.fields.caller, "admin-console")
        const metrics = yield* Effect.flatMap(gatewayUrl, (base) => send(`${base}/metrics`))
        const name = "api_gateway_config_reloads_total"
        const failures = samplesOf(parsePrometheus(metrics.text).get(name), name, { result: "failure" }).reduce((n, s) => n + s.value, 0)
        assert.strictEqual(failures, 1, "counted like a SIGHUP reload")
      }))
  })
})
