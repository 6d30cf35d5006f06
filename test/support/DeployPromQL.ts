// What the operator assets' PromQL may refer to: the series the gateway exposes (SPEC §5,
// src/layers/MetricsLive.ts) and the labels each carries, plus a light PromQL reader that
// finds the metric and label names of an expression without a full parser.
import * as Effect from "effect/Effect"
import { MetricsLive } from "../../src/layers/MetricsLive.js"
import { Metrics } from "../../src/services/Metrics.js"
import { parsePrometheus } from "./HttpPrometheus.js"

type MetricType = "counter" | "gauge" | "histogram"

/** The gateway's own metrics with their label names (SPEC §5). */
export const gatewayMetrics: Readonly<Record<string, readonly [MetricType, ReadonlyArray<string>]>> = {
  api_gateway_http_requests_total: ["counter", ["method", "path", "status"]],
  api_gateway_http_request_duration_seconds: ["histogram", ["method", "path"]],
  api_gateway_http_request_size_bytes: ["histogram", ["method", "path"]],
  api_gateway_http_response_size_bytes: ["histogram", ["method", "path"]],
  api_gateway_active_connections: ["gauge", []],
  api_gateway_circuit_breaker_state: ["gauge", ["service"]],
  api_gateway_circuit_breaker_transitions_total: ["counter", ["service", "from", "to"]],
  api_gateway_cache_hits_total: ["counter", ["endpoint"]],
  api_gateway_cache_misses_total: ["counter", ["endpoint"]],
  api_gateway_cache_bypass_total: ["counter", ["reason"]],
  api_gateway_rate_limit_exceeded_total: ["counter", ["endpoint", "limiter_type"]],
  api_gateway_rate_limit_fallback_active: ["gauge", []],
  api_gateway_upstream_requests_total: ["counter", ["service", "method", "status"]],
  api_gateway_upstream_request_duration_seconds: ["histogram", ["service", "method"]],
  api_gateway_upstream_errors_total: ["counter", ["service", "error_type"]],
  api_gateway_authentication_attempts_total: ["counter", ["type"]],
  api_gateway_authentication_failures_total: ["counter", ["type", "reason"]],
  api_gateway_websocket_connections: ["gauge", []],
  api_gateway_redis_errors_total: ["counter", ["component"]],
  api_gateway_config_reloads_total: ["counter", ["result"]]
}

/** Labels Prometheus adds to every scraped series. */
const targetLabels = ["job", "instance"]

/** The series names a family of `type` is exposed as. */
export const seriesNames = (family: string, type: string | undefined): Array<string> =>
  type === "histogram"
    ? [`${family}_bucket`, `${family}_sum`, `${family}_count`]
    : type === "summary"
    ? [family, `${family}_sum`, `${family}_count`]
    : [family]

/** The families and types MetricsLive registers, read from its own exposition (HELP/TYPE lines appear even without samples). */
export const exposedFamilies: Effect.Effect<Map<string, string | undefined>> = Metrics.pipe(
  Effect.flatMap((metrics) => metrics.render),
  Effect.map(({ body }) => new Map([...parsePrometheus(body).values()].map((f) => [f.name, f.type]))),
  Effect.provide(MetricsLive)
)

/** Every series name an expression may select: the exposed ones, plus `up`. */
export const allowedSeries = (families: ReadonlyMap<string, string | undefined>): Set<string> =>
  new Set(["up", ...[...families].flatMap(([name, type]) => seriesNames(name, type))])

/** The label names a series may be selected or grouped by, or undefined when no table lists it. */
export const labelsOfSeries = (series: string): Array<string> | undefined => {
  if (series === "up") return targetLabels
  for (const [family, [type, labels]] of Object.entries(gatewayMetrics)) {
    if (!seriesNames(family, type).includes(series)) continue
    return [...targetLabels, ...labels, ...(series.endsWith("_bucket") ? ["le"] : [])]
  }
  return undefined
}

const keywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool", "inf", "nan"])

const strings = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g

/** The metric names an expression selects (function names, keywords, labels, strings and Grafana variables left out). */
export const metricNamesOf = (expr: string): Array<string> => {
  const bare = expr
    .replace(strings, "\"\"")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, " ")
    .replace(/\$\{[^}]*\}|\$\w+/g, " ")
  const names = new Set<string>()
  for (const m of bare.matchAll(/(?<![\w.:$])[A-Za-z_:][\w:]*/g)) {
    const rest = bare.slice(m.index + m[0].length)
    if (/^\s*\(/.test(rest) || keywords.has(m[0].toLowerCase())) continue
    names.add(m[0])
  }
  return [...names]
}

/** Label names an expression uses: in selectors' matchers (per metric) and in by/without/on/ignoring lists. */
export const labelNamesOf = (expr: string): { selectors: Array<{ metric: string; labels: Array<string> }>; grouping: Array<string> } => {
  const noStrings = expr.replace(strings, "\"\"")
  const selectors = [...noStrings.matchAll(/([A-Za-z_:][\w:]*)\s*\{([^}]*)\}/g)].map((m) => ({
    metric: m[1]!,
    labels: [...m[2]!.matchAll(/([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!)
  }))
  const grouping = [...noStrings.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/gi)]
    .flatMap((m) => m[1]!.split(",").map((l) => l.trim()).filter((l) => l !== ""))
  return { selectors, grouping }
}

/**
 * What is wrong with an expression's names: series the gateway does not expose, and label
 * names no series of the expression carries.
 */
export const problemsOf = (expr: string, allowed: ReadonlySet<string>): Array<string> => {
  const names = metricNamesOf(expr)
  const problems = names.filter((n) => !allowed.has(n)).map((n) => `unknown series ${n}`)
  const { grouping, selectors } = labelNamesOf(expr)
  for (const { labels, metric } of selectors) {
    const known = labelsOfSeries(metric)
    if (known === undefined) continue
    for (const label of labels) if (!known.includes(label)) problems.push(`${metric} has no label ${label}`)
  }
  const available = new Set([...targetLabels, ...names.flatMap((n) => labelsOfSeries(n) ?? [])])
  const listed = names.every((n) => labelsOfSeries(n) !== undefined)
  if (listed) for (const label of grouping) if (!available.has(label)) problems.push(`no series of the expression has label ${label}`)
  return problems
}

/** Grafana's variables replaced by values Prometheus accepts, so a panel's query can be checked or run. */
export const withoutGrafanaVariables = (expr: string): string =>
  expr.replace(/\$__rate_interval|\$__interval|\$__range/g, "1m").replace(/\$\{[^}]*\}|\$\w+/g, ".*")

export interface Query {
  readonly where: string
  readonly expr: string
}

interface Target { readonly expr?: string; readonly refId?: string }
interface Panel { readonly title?: string; readonly type?: string; readonly targets?: ReadonlyArray<Target>; readonly panels?: ReadonlyArray<Panel> }
interface Variable { readonly name?: string; readonly type?: string; readonly query?: unknown }

/** The panels of a dashboard, rows' nested panels included. */
export const panelsOf = (dashboard: { readonly panels?: ReadonlyArray<Panel> }): Array<Panel> =>
  (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])])

/** Every PromQL expression of a dashboard: panel targets and query variables (`label_values(selector, label)` gives its selector). */
export const dashboardQueries = (dashboard: { readonly panels?: ReadonlyArray<Panel>; readonly templating?: { readonly list?: ReadonlyArray<Variable> } }): Array<Query> => {
  const panels = panelsOf(dashboard).flatMap((p) =>
    (p.targets ?? []).filter((t) => t.expr !== undefined).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr! }))
  )
  const variables = (dashboard.templating?.list ?? []).filter((v) => v.type === "query").map((v) => {
    const text = typeof v.query === "string" ? v.query : String((v.query as { query?: unknown } | undefined)?.query ?? "")
    const labelValues = /^\s*label_values\((.*),\s*\w+\s*\)\s*$/.exec(text)
    return { where: `variable ${v.name}`, expr: labelValues === null ? text : labelValues[1]! }
  })
  return [...panels, ...variables]
}

interface RuleGroup { readonly name: string; readonly rules: ReadonlyArray<Record<string, unknown>> }

/** The alerting and recording rules of a Prometheus rules file. */
export const rulesOf = (doc: unknown): Array<Record<string, unknown> & { readonly group: string }> =>
  ((doc as { groups?: ReadonlyArray<RuleGroup> }).groups ?? []).flatMap((g) => g.rules.map((r) => ({ ...r, group: g.name })))
