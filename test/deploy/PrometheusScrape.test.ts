// End to end: a real Prometheus (Debian's `prometheus` package; CI installs it) scrapes
// the compiled gateway with deploy/prometheus/prometheus.yml's job and loads alerts.yml;
// the samples carry route templates, the rules evaluate cleanly and every dashboard
// query runs. `npm test` builds dist/ first; run `npm run build` before running this alone.
import { assert, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { existsSync } from "node:fs"
import { dashboardQueries, withoutGrafanaVariables } from "../support/DeployPromQL.js"
import { apiData, type PrometheusServer, query, scrapeConfigFor, startPrometheus } from "../support/DeployPrometheus.js"
import { readRepoJson, repoPath, requireTool } from "../support/DeployTools.js"
import { freePort } from "../support/HttpBackend.js"
import { eventually, send } from "../support/HttpClient.js"
import { spawnGateway, waitForReady, writeConfig } from "../support/ProcessGateway.js"

interface Setup { readonly prometheus: PrometheusServer; readonly gateway: string }

/** The setup, or why it failed: each test then fails with that reason (a missing binary says how to install it). */
class Scrape extends Context.Tag("test/Scrape")<Scrape, Either.Either<Setup, Error>>() {}

const scrape = Effect.flatMap(Scrape, (setup) => setup)

const gatewayConfig = [
  "server:",
  "  host: 127.0.0.1",
  "  mode: test",
  "auth:",
  "  enabled: true",
  "  jwt_secret: prometheus-scrape-test-secret-0123456789",
  "rate_limit:",
  "  exempt_paths: [/health/liveness, /health/readiness, /metrics]",
  "health:",
  "  check_services: false",
  "logging:",
  "  level: warn",
  ""
].join("\n")

/** The gateway process with a little traffic, then Prometheus scraping it every second. */
const ScrapeLive = Layer.scoped(
  Scrape,
  Effect.gen(function* () {
    const binary = yield* requireTool("prometheus")
    if (!existsSync(repoPath("dist", "gateway.mjs"))) return yield* Effect.fail(new Error("dist/gateway.mjs is missing: run npm run build"))
    const port = yield* freePort
    const proc = yield* spawnGateway({ CONFIG_PATH: yield* writeConfig(gatewayConfig), SERVER_PORT: String(port) })
    const gateway = `http://127.0.0.1:${port}`
    yield* waitForReady(proc, `${gateway}/health/liveness`, 30_000)
    for (let i = 0; i < 3; i++) {
      yield* send(`${gateway}/health/liveness`)
      yield* send(`${gateway}/version`)
    }
    yield* send(`${gateway}/api/v1/orders/12345`) // 401, recorded under its route template
    const prometheus = yield* startPrometheus(binary, scrapeConfigFor(`127.0.0.1:${port}`))
    return { prometheus, gateway }
  }).pipe(Effect.either)
)

/** Polls a query until it returns samples, for at most 30 s (scrapes and rule evaluations run every second). */
const samplesOf = (prometheus: PrometheusServer, promql: string) =>
  eventually(
    Effect.flatMap(query(prometheus, promql), (samples) =>
      samples.length > 0 ? Effect.succeed(samples) : Effect.fail(new Error(`no samples yet for ${promql}\n${prometheus.output()}`))),
    { timeoutMs: 30_000, intervalMs: 500 }
  )

/** Dashboard panels that have data after a few requests, without backends, cache traffic or 5xx. */
const panelsWithData = [
  "Request rate by route", "Latency p50 / p95 / p99", "Active connections", "WebSocket connections",
  "Circuit breaker state per service", "Auth failures by reason", "CPU", "Memory", "Event loop lag p99"
]

layer(ScrapeLive, { excludeTestServices: true, timeout: "60 seconds" })("Prometheus scraping the gateway", (it) => {
  it.effect("stores api_gateway_http_requests_total for /version under its route template and the job's labels", () =>
    Effect.gen(function* () {
      const { prometheus } = yield* scrape
      const samples = yield* samplesOf(prometheus, `api_gateway_http_requests_total{path="/version"}`)
      assert.lengthOf(samples, 1)
      assert.deepInclude(samples[0]!.metric, { job: "api-gateway", method: "GET", path: "/version", status: "200" })
      assert.strictEqual(Number(samples[0]!.value[1]), 3)
    }), 45_000)

  it.effect("labels a raw /api/v1/orders/12345 with the template /api/v1/orders/:id, never the raw path", () =>
    Effect.gen(function* () {
      const { prometheus } = yield* scrape
      const samples = yield* samplesOf(prometheus, `api_gateway_http_requests_total{path=~"/api/v1/orders.*"}`)
      assert.deepStrictEqual(samples.map((s) => [s.metric.path, s.metric.status]), [["/api/v1/orders/:id", "401"]])
      const failures = yield* samplesOf(prometheus, "api_gateway_authentication_failures_total")
      assert.isTrue(failures.some((s) => s.metric.reason === "missing"), JSON.stringify(failures))
    }), 45_000)

  it.effect("the target is up, every alert rule evaluates without error and none fires", () =>
    Effect.gen(function* () {
      const { prometheus } = yield* scrape
      const up = yield* samplesOf(prometheus, `up{job="api-gateway"}`)
      assert.strictEqual(up[0]!.value[1], "1")
      interface Rule { readonly name: string; readonly health: string; readonly lastError?: string; readonly lastEvaluation: string }
      const rules = yield* eventually(
        Effect.flatMap(apiData<{ groups: Array<{ rules: Array<Rule> }> }>(prometheus, "rules"), ({ groups }) => {
          const all = groups.flatMap((g) => g.rules)
          const pending = all.filter((r) => r.health !== "ok" || r.lastEvaluation.startsWith("0001"))
          return pending.length === 0 && all.length > 0
            ? Effect.succeed(all)
            : Effect.fail(new Error(`rules not yet evaluated cleanly: ${JSON.stringify(pending)}`))
        }),
        { timeoutMs: 30_000, intervalMs: 500 }
      )
      assert.isAtLeast(rules.length, 7)
      // right after start ApiGatewayAbsent may be pending until the first scrape lands
      const alerts = yield* eventually(
        Effect.flatMap(apiData<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>(prometheus, "alerts"), ({ alerts }) =>
          alerts.length === 0 ? Effect.succeed(alerts) : Effect.fail(new Error(`alerts: ${JSON.stringify(alerts)}`))),
        { timeoutMs: 30_000, intervalMs: 500 }
      )
      assert.deepStrictEqual(alerts, [])
    }), 75_000)

  it.effect("every dashboard query runs, and the panels the traffic feeds have data", () =>
    Effect.gen(function* () {
      const { prometheus } = yield* scrape
      yield* samplesOf(prometheus, `sum(rate(api_gateway_http_requests_total[1m]))`) // two scrapes in the window
      const queries = dashboardQueries(readRepoJson("deploy", "grafana", "api-gateway-dashboard.json") as never)
      const empty: Array<string> = []
      for (const q of queries) {
        const samples = yield* query(prometheus, withoutGrafanaVariables(q.expr))
        if (samples.length === 0) empty.push(q.where)
      }
      for (const title of panelsWithData) {
        assert.isFalse(empty.some((w) => w.startsWith(`panel "${title}"`)), `panel "${title}" has no data; empty: ${empty.join(", ")}`)
      }
      assert.isFalse(empty.includes("variable instance"), "the instance variable lists the gateway")
    }), 45_000)
})
