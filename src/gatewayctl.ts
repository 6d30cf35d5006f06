// `npm run gatewayctl -- status|routes|breakers|reset-breaker NAME|purge PREFIX|reload`:
// the operators' command line over the admin API (issue #11). Exit 0 done, 1 the gateway
// refused or could not be reached, 2 bad arguments.
import { parseArgs } from "node:util"
import type { CacheView, RateLimitView, RouteView, ServiceView, StatusView } from "./services/AdminStats.js"

const usage = `Usage: npm run gatewayctl -- <command> [--url URL] [--key KEY | --token JWT] [--json]

Commands:
  status               services, cache and rate limits at a glance
  routes               the route table: methods, paths, services, roles
  breakers             each service's circuit breaker
  reset-breaker NAME   close the circuit breaker of service NAME
  purge PREFIX         drop the cached responses of the cache rule PREFIX
  reload               read the config file again, as SIGHUP does

Options:
  --url URL    the admin listener (default: $GATEWAYCTL_URL, else http://127.0.0.1:9000)
  --key KEY    an API key with the admin role (default: $GATEWAYCTL_KEY)
  --token JWT  a JWT with the admin role instead (default: $GATEWAYCTL_TOKEN)
  --json       print the admin API's JSON instead of tables
`

const commands: Record<string, number> = { status: 0, routes: 0, breakers: 0, "reset-breaker": 1, purge: 1, reload: 0 }

class Refused extends Error {}

const badArgs = (message: string): never => {
  process.stderr.write(`gatewayctl: ${message}\n\n${usage}`)
  process.exit(2)
}

const numberLike = /^(-?\d+(\.\d+)?%?|–)$/

/** Columns padded to their widest cell; numbers right-aligned. */
const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>): string => {
  const cells = [head, ...rows.map((r) => r.map(String))]
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)))
  const numeric = head.map((_, i) => rows.length > 0 && cells.slice(1).every((r) => numberLike.test(r[i] ?? "")))
  return cells.map((r) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n") + "\n"
}

const fixed = (n: number | null, digits: number): string => (n === null ? "–" : n.toFixed(digits))
const percent = (r: number | null) => (r === null ? "–" : `${(r * 100).toFixed(1)}%`)

const servicesTable = (services: ReadonlyArray<ServiceView>) =>
  table(["SERVICE", "BREAKER", "REQ/S", "ERRORS", "P50 MS", "P99 MS", "URL"], services.map((s) => [
    s.name, s.breaker.state, fixed(s.last_minute.requests_per_second, 2), percent(s.last_minute.error_ratio),
    fixed(s.last_minute.latency_p50_ms, 1), fixed(s.last_minute.latency_p99_ms, 1), s.url
  ]))

const cacheLine = (c: CacheView) =>
  `cache: ${c.store}${c.enabled ? "" : " (disabled)"}, ${c.entries ?? "?"} entries, hit ratio ${percent(c.hit_ratio)} ` +
  `(${c.hits} hits, ${c.misses} misses)${c.redis_reachable === null ? "" : `, Redis ${c.redis_reachable ? "reachable" : "UNREACHABLE"}`}\n`

const limitsLine = (r: RateLimitView) => {
  const top = r.top_rejected_ips.slice(0, 5).map((e) => `${e.ip} (${e.rejections})`).join(", ")
  return `rate limits: ${r.store}${r.fallback_active ? " (LOCAL FALLBACK)" : ""}${r.enabled ? "" : " (disabled)"}, ${r.rejections.total} refused ` +
    `(global ${r.rejections.global}, ip ${r.rejections.ip}, endpoint ${r.rejections.endpoint})${top === "" ? "" : `; most refused: ${top}`}\n`
}

const render: Record<string, (body: never) => string> = {
  status: (s: StatusView) =>
    `${s.service} ${s.version} (${s.git_commit.slice(0, 12)}), up ${Math.floor(s.uptime_seconds / 60)} min, ` +
    `config ${s.config.file_hash.slice(0, 12)} loaded ${s.config.loaded_at}\n\n${servicesTable(s.services)}\n${cacheLine(s.cache)}${limitsLine(s.rate_limits)}`,
  routes: (routes: ReadonlyArray<RouteView>) =>
    table(["METHOD", "PATH", "SERVICE", "ROLE"], routes.map((r) => [r.method, r.path, r.service ?? "(gateway)", r.role])),
  breakers: (services: ReadonlyArray<ServiceView>) =>
    table(["SERVICE", "STATE", "REQUESTS", "FAILURES", "CONSECUTIVE", "LAST TRANSITION"], services.map((s) => {
      const t = s.breaker.last_transition
      return [s.name, s.breaker.state, s.breaker.counts.requests, s.breaker.counts.total_failures, s.breaker.counts.consecutive_failures,
        t === null ? "never" : `${t.from} -> ${t.to} at ${t.at}`]
    })),
  "reset-breaker": (r: { service: string; previous_state: string }) => `${r.service}: breaker closed (was ${r.previous_state})\n`,
  purge: (r: { prefix: string; purged: number }) => `${r.prefix}: ${r.purged} cached ${r.purged === 1 ? "entry" : "entries"} dropped\n`,
  reload: (r: { file_hash: string; loaded_at: string; restart_needed: ReadonlyArray<string> }) =>
    `config reloaded: ${r.file_hash.slice(0, 12)} at ${r.loaded_at}\n` +
    (r.restart_needed.length === 0 ? "" : `changed but needing a restart (running values kept): ${r.restart_needed.join(", ")}\n`)
}

const requestFor = (command: string, arg: string | undefined): { method: "GET" | "POST"; path: string; body?: string } => {
  switch (command) {
    case "status": return { method: "GET", path: "/admin/status" }
    case "routes": return { method: "GET", path: "/admin/routes" }
    case "breakers": return { method: "GET", path: "/admin/services" }
    case "reset-breaker": return { method: "POST", path: `/admin/services/${encodeURIComponent(arg!)}/reset` }
    case "purge": return { method: "POST", path: "/admin/cache/purge", body: JSON.stringify({ prefix: arg }) }
    default: return { method: "POST", path: "/admin/reload" }
  }
}

const refusal = (status: number, body: Record<string, unknown>, command: string, arg: string | undefined): string => {
  const what = status === 404 && command === "reset-breaker" ? `: no service named ${arg}` : status === 404 && command === "purge" ? `: no cache rule ${arg}` : ""
  const problems = Array.isArray(body.problems) ? `\n  ${body.problems.join("\n  ")}` : ""
  const details = typeof body.details === "string" ? ` (${body.details})` : ""
  return `the gateway answered ${status} ${String(body.error ?? "")}${what}${details}${problems}`
}

const main = async () => {
  let parsed
  try {
    parsed = parseArgs({
      options: { url: { type: "string" }, key: { type: "string" }, token: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true
    })
  } catch (e) {
    return badArgs(e instanceof Error ? e.message : String(e))
  }
  const { positionals, values } = parsed
  if (values.help === true) return void process.stdout.write(usage)
  const [command, ...rest] = positionals
  if (command === undefined) return badArgs("a command is required")
  const arity = commands[command]
  if (arity === undefined) return badArgs(`unknown command ${JSON.stringify(command)}`)
  if (rest.length !== arity) return badArgs(`${command} takes ${arity === 0 ? "no argument" : "one argument"}, got ${rest.length}`)
  const arg = rest[0]
  if (command === "purge" && !arg!.startsWith("/")) return badArgs(`PREFIX must be a cache rule path such as /api/v1/market-data, got ${JSON.stringify(arg)}`)
  const key = values.key ?? process.env.GATEWAYCTL_KEY
  const token = values.token ?? process.env.GATEWAYCTL_TOKEN
  if ((key === undefined || key === "") && (token === undefined || token === "")) return badArgs("an admin API key (--key) or JWT (--token) is required")
  const base = (values.url ?? process.env.GATEWAYCTL_URL ?? "http://127.0.0.1:9000").replace(/\/+$/, "")
  if (!/^https?:\/\/[^/]+$/.test(base)) return badArgs(`--url must be http(s)://host:port, got ${JSON.stringify(base)}`)

  const { body, method, path } = requestFor(command, arg)
  const headers: Record<string, string> = token !== undefined && token !== "" ? { authorization: `Bearer ${token}` } : { "x-api-key": key! }
  if (body !== undefined) headers["content-type"] = "application/json"
  let res: Response
  try {
    res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(15_000) })
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : ""
    throw new Refused(`cannot reach the admin listener at ${base}${cause}`)
  }
  const text = await res.text()
  let parsedBody: unknown
  try {
    parsedBody = JSON.parse(text)
  } catch {
    throw new Refused(`the gateway answered ${res.status} with a body that is not JSON`)
  }
  if (values.json === true) process.stdout.write(`${JSON.stringify(parsedBody, null, 2)}\n`)
  if (!res.ok) throw new Refused(refusal(res.status, parsedBody as Record<string, unknown>, command, arg))
  if (values.json !== true) process.stdout.write(render[command]!(parsedBody as never))
}

main().catch((e: unknown) => {
  process.stderr.write(`gatewayctl: ${e instanceof Refused ? e.message : e instanceof Error ? e.stack : String(e)}\n`)
  process.exitCode = 1
})
