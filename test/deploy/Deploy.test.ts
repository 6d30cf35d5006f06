// The Prometheus and Grafana assets of deploy/: the dashboard's panels, every PromQL
// expression against the series the gateway really exposes, and promtool's checks and
// unit tests of the alert rules (Debian's `prometheus` package; CI installs it).
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { stringify } from "yaml"
import {
  allowedSeries, dashboardQueries, exposedFamilies, gatewayMetrics, labelNamesOf, metricNamesOf, panelsOf, problemsOf,
  type Query, rulesOf, seriesNames, withoutGrafanaVariables
} from "../support/DeployPromQL.js"
import { expectSuccess, readRepoJson, readRepoYaml, repoPath, requireTool, runTool } from "../support/DeployTools.js"

interface Dashboard {
  readonly schemaVersion: number
  readonly title: string
  readonly uid: string
  readonly panels: ReadonlyArray<{ readonly title?: string; readonly type?: string; readonly datasource?: { readonly uid?: string } }>
  readonly templating: { readonly list: ReadonlyArray<{ readonly name: string; readonly type: string; readonly query?: unknown }> }
}

const dashboard = () => readRepoJson("deploy", "grafana", "api-gateway-dashboard.json") as Dashboard
const alertRules = () => rulesOf(readRepoYaml("deploy", "prometheus", "alerts.yml")).filter((r) => typeof r.alert === "string")

/** The panels the operators asked for, by title. */
const requiredPanels = [
  "Request rate by route",
  "Error rate (5xx ratio)",
  "Latency p50 / p95 / p99",
  "Circuit breaker state per service",
  "Cache hit ratio per rule",
  "Rate-limit rejections by limiter_type",
  "Upstream latency p99 per service",
  "Active connections",
  "WebSocket connections",
  "Auth failures by reason"
]

const assertNamesExposed = (queries: ReadonlyArray<Query>) =>
  Effect.map(exposedFamilies, (families) => {
    const allowed = allowedSeries(families)
    const problems = queries.flatMap((q) => problemsOf(q.expr, allowed).map((p) => `${q.where}: ${p}\n  ${q.expr}`))
    assert.deepStrictEqual(problems, [], problems.join("\n"))
    assert.isAbove(queries.length, 0)
  })

/** promtool check rules on the expressions as recording rules: PromQL syntax and function arity. */
const checkSyntax = (queries: ReadonlyArray<Query>) =>
  Effect.gen(function* () {
    const promtool = yield* requireTool("promtool")
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "gateway-promql-test-"))),
      (d) => Effect.promise(() => rm(d, { recursive: true, force: true }))
    )
    const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}:check`, expr: withoutGrafanaVariables(q.expr) }))
    const file = join(dir, "queries.yml")
    yield* Effect.promise(() => writeFile(file, stringify({ groups: [{ name: "dashboard", rules }] }), "utf8"))
    const result = yield* runTool(promtool, ["check", "rules", file])
    assert.strictEqual(result.code, 0, `promtool refused a query:\n${result.stdout}${result.stderr}\n${queries.map((q, i) => `query_${i}: ${q.where}`).join("\n")}`)
  })

describe("PromQL names", () => {
  it("finds the selected series, and the labels of matchers and groupings", () => {
    const expr = `histogram_quantile(0.99, sum by (service, le) (rate(api_gateway_upstream_request_duration_seconds_bucket{instance=~"$instance", service!="a{b}"}[$__rate_interval]))) > 1 and on() up offset 5m`
    assert.deepStrictEqual(metricNamesOf(expr), ["api_gateway_upstream_request_duration_seconds_bucket", "up"])
    assert.deepStrictEqual(labelNamesOf(expr), {
      selectors: [{ metric: "api_gateway_upstream_request_duration_seconds_bucket", labels: ["instance", "service"] }],
      grouping: ["service", "le"]
    })
    assert.deepStrictEqual(metricNamesOf(`sum(rate(a_total[5m])) without (x) / ignoring(y) group_left b 1e3`), ["a_total", "b"])
  })

  it("refuses the seed's latency rule: a histogram is selected through its _bucket series", () => {
    const allowed = new Set(seriesNames("api_gateway_http_request_duration_seconds", "histogram"))
    assert.deepStrictEqual(problemsOf("histogram_quantile(0.99, api_gateway_http_request_duration_seconds) > 1", allowed), [
      "unknown series api_gateway_http_request_duration_seconds"
    ])
    assert.deepStrictEqual(problemsOf(`sum by (route) (rate(api_gateway_http_request_duration_seconds_count{handler="x"}[5m]))`, allowed), [
      "api_gateway_http_request_duration_seconds_count has no label handler",
      "no series of the expression has label route"
    ])
  })

  it.effect("the gateway exposes every metric the assets are written against, with its type", () =>
    Effect.map(exposedFamilies, (families) => {
      for (const [name, [type]] of Object.entries(gatewayMetrics)) assert.strictEqual(families.get(name), type, name)
      assert.isTrue([...families.keys()].some((n) => n.startsWith("process_")), "prom-client's default process metrics")
      assert.isTrue([...families.keys()].some((n) => n.startsWith("nodejs_")), "prom-client's default nodejs metrics")
    }))
})

describe("Grafana dashboard", () => {
  it("parses, takes its Prometheus from a datasource variable and has the operators' panels", () => {
    const d = dashboard()
    assert.strictEqual(d.schemaVersion, 39)
    assert.strictEqual(d.uid, "api-gateway")
    assert.deepInclude(d.templating.list.find((v) => v.name === "datasource"), { type: "datasource", query: "prometheus" })
    const titles = panelsOf(d).map((p) => p.title)
    for (const title of requiredPanels) assert.include(titles, title)
    for (const p of d.panels.filter((p) => p.type !== "row")) assert.strictEqual(p.datasource?.uid, "${datasource}", `panel ${p.title}`)
    const ids = panelsOf(d).map((p) => (p as { id?: number }).id)
    assert.strictEqual(new Set(ids).size, ids.length, "panel ids are unique")
  })

  it.effect("every query selects only series the gateway exposes, by labels they carry", () =>
    assertNamesExposed(dashboardQueries(dashboard())))

  it.scopedLive("every query is valid PromQL (promtool check rules)", () => checkSyntax(dashboardQueries(dashboard())))
})

describe("Prometheus alert rules", () => {
  it("every alert has a for, a severity and a summary and description", () => {
    const rules = alertRules()
    assert.isAtLeast(rules.length, 7)
    for (const r of rules) {
      const labels = r.labels as Record<string, string> | undefined
      const annotations = r.annotations as Record<string, string> | undefined
      assert.match(String(r.for), /^\d+[smh]$/, `${r.alert}: for`)
      assert.oneOf(labels?.severity, ["critical", "warning"], `${r.alert}: severity`)
      assert.isNotEmpty(annotations?.summary, `${r.alert}: summary`)
      assert.isNotEmpty(annotations?.description, `${r.alert}: description`)
    }
  })

  it("cover errors, breakers, latency, Redis, rate-limit storms, availability and upstream errors", () => {
    const byName = new Map(alertRules().map((r) => [String(r.alert), { expr: String(r.expr), for: String(r.for) }]))
    const expect = (name: string, fragments: ReadonlyArray<string | RegExp>) => {
      const rule = byName.get(name)
      assert.isDefined(rule, `alert ${name}`)
      for (const f of fragments) {
        if (typeof f === "string") assert.include(rule!.expr, f, name)
        else assert.match(rule!.expr, f, name)
      }
      return rule!
    }
    expect("ApiGatewayHighErrorRatio", [`status=~"5.."`, "api_gateway_http_requests_total"])
    assert.strictEqual(expect("ApiGatewayCircuitBreakerOpen", ["api_gateway_circuit_breaker_state", "== 2"]).for, "2m")
    expect("ApiGatewayHighLatencyP99", [/histogram_quantile\(0\.99,\s*sum by \([^)]*\ble\)\s*\(rate\(api_gateway_http_request_duration_seconds_bucket/, "> 1"])
    expect("ApiGatewayRedisUnreachable", [/rate\(api_gateway_redis_errors_total/, "api_gateway_rate_limit_fallback_active) == 1"])
    expect("ApiGatewayRateLimitStorm", [/rate\(api_gateway_rate_limit_exceeded_total/])
    expect("ApiGatewayDown", [`up{job="api-gateway"} == 0`])
    expect("ApiGatewayUpstreamErrorRatio", [/sum by \(job, service\)/, "api_gateway_upstream_requests_total"])
  })

  it.effect("every expression selects only series the gateway exposes, by labels they carry", () =>
    assertNamesExposed(alertRules().map((r) => ({ where: `alert ${String(r.alert)}`, expr: String(r.expr) }))))

  it.live("promtool check rules accepts alerts.yml", () =>
    Effect.gen(function* () {
      const promtool = yield* requireTool("promtool")
      const result = yield* runTool(promtool, ["check", "rules", repoPath("deploy", "prometheus", "alerts.yml")]).pipe(
        Effect.flatMap(expectSuccess("promtool check rules"))
      )
      assert.include(result.stdout, `SUCCESS: ${rulesOf(readRepoYaml("deploy", "prometheus", "alerts.yml")).length} rules found`)
    }))

  it.live("promtool check config accepts prometheus.yml, with the rules it loads", () =>
    Effect.gen(function* () {
      const promtool = yield* requireTool("promtool")
      const result = yield* runTool(promtool, ["check", "config", repoPath("deploy", "prometheus", "prometheus.yml")]).pipe(
        Effect.flatMap(expectSuccess("promtool check config"))
      )
      assert.include(result.stdout, "SUCCESS: 1 rule files found")
    }))

  it.live("the alerts fire when, and only when, alerts_test.yml says (promtool test rules)", () =>
    Effect.gen(function* () {
      const promtool = yield* requireTool("promtool")
      const file = repoPath("deploy", "prometheus", "alerts_test.yml")
      const result = yield* runTool(promtool, ["test", "rules", file]).pipe(Effect.flatMap(expectSuccess("promtool test rules")))
      assert.include(result.stdout, "SUCCESS")
      const tested = new Set(((readRepoYaml("deploy", "prometheus", "alerts_test.yml") as { tests: Array<{ alert_rule_test?: Array<{ alertname: string }> }> }).tests)
        .flatMap((t) => (t.alert_rule_test ?? []).map((a) => a.alertname)))
      for (const r of alertRules()) assert.isTrue(tested.has(String(r.alert)), `alerts_test.yml tests ${String(r.alert)}`)
    }))
})
