// The SIGHUP suites' harness (SPEC §1): the compiled gateway as a process whose config
// file the test rewrites, its reload counter read from /metrics, its stdout as JSON log
// lines. Every wait is bounded; the process and its file go with the scope.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { writeFile } from "node:fs/promises"
import { stringify } from "yaml"
import { freePort } from "./HttpBackend.js"
import { eventually, send } from "./HttpClient.js"
import { parsePrometheus, samplesOf } from "./HttpPrometheus.js"
import { type GatewayProcess, linesOf, spawnGateway, waitForReady, writeConfig } from "./ProcessGateway.js"
import { merge } from "./TestConfig.js"

type Doc = Record<string, unknown>

export const reloadServices = ["market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"] as const

/** Two viewer keys: the file starts with A, a reload replaces it with B. */
export const reloadKeys = {
  a: "reload-key-alpha-7f3e9b21c4d8",
  b: "reload-key-bravo-2a6c8e0f1b3d"
} as const

export const viewerKey = (name: "a" | "b") => ({ key: reloadKeys[name], role: "viewer", name: `viewer-${name}` })

/** A process config: every service at `backendUrl`, auth with key A, generous limits, CORS for one origin. */
export const reloadDoc = (port: number, backendUrl: string, over: Doc = {}): Doc =>
  merge({
    server: { host: "127.0.0.1", port, mode: "test", shutdown_timeout: "2s" },
    services: Object.fromEntries(reloadServices.map((name) => [name, { url: backendUrl, max_retries: 0, timeout: "5s" }])),
    auth: { enabled: true, jwt_secret: "reload-suite-secret-0123456789abcdefghij", api_keys: [viewerKey("a")] },
    rate_limit: {
      enabled: true,
      global: { requests_per_second: 1000, burst: 2000 },
      per_ip: { requests_per_minute: 100_000, burst: 100_000 },
      exempt_paths: ["/health/liveness", "/health/readiness", "/metrics"]
    },
    cors: { enabled: true, allowed_origins: ["http://one.example"] },
    circuit_breaker: { min_requests: 1_000_000 },
    health: { check_services: false },
    logging: { level: "info", format: "json", output: "stdout" }
  }, over)

export const yamlOf = (doc: Doc): string => stringify(doc)

export interface ReloadGateway {
  readonly proc: GatewayProcess
  readonly port: number
  readonly base: string
  readonly configPath: string
  /** Replaces the config file's text (nothing is signalled). */
  readonly rewrite: (text: string) => Effect.Effect<void>
  /** Sends SIGHUP to the process. */
  readonly hangup: Effect.Effect<void>
  /** Rewrites the file, then SIGHUP. */
  readonly reloadWith: (text: string) => Effect.Effect<void>
}

/**
 * Writes `doc` (port from freePort unless it names one) to a temporary file, starts the
 * gateway on it and waits until it serves liveness.
 */
export const startReloadGateway = (
  backendUrl: string,
  over: Doc = {}
): Effect.Effect<ReloadGateway, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const port = yield* freePort
    const configPath = yield* writeConfig(yamlOf(reloadDoc(port, backendUrl, over)))
    const proc = yield* spawnGateway({ CONFIG_PATH: configPath })
    const base = `http://127.0.0.1:${port}`
    yield* waitForReady(proc, `${base}/health/liveness`)
    const rewrite = (text: string) => Effect.promise(() => writeFile(configPath, text, "utf8"))
    const hangup = Effect.sync(() => void proc.child.kill("SIGHUP"))
    return { proc, port, base, configPath, rewrite, hangup, reloadWith: (text: string) => Effect.zipRight(rewrite(text), hangup) }
  })

/** api_gateway_config_reloads_total{result}, 0 when the series is not there yet. */
export const reloadCount = (base: string, result: "success" | "failure"): Effect.Effect<number> =>
  Effect.map(send(`${base}/metrics`), (res) => {
    const name = "api_gateway_config_reloads_total"
    return samplesOf(parsePrometheus(res.text).get(name), name, { result }).reduce((sum, s) => sum + s.value, 0)
  })

/** Waits (bounded) until the counter for `result` reaches `n`. */
export const awaitReloads = (base: string, result: "success" | "failure", n: number, timeoutMs = 5_000): Effect.Effect<void> =>
  eventually(
    Effect.flatMap(reloadCount(base, result), (count) =>
      count >= n ? Effect.void : Effect.dieMessage(`config_reloads_total{result="${result}"} is ${count}, waiting for ${n}`)),
    { timeoutMs, intervalMs: 50 }
  )

/** A GET of `path` through the gateway with `headers` (credentials among them). */
export const getWith = (base: string, path: string, headers: Record<string, string> = {}) => send(`${base}${path}`, { headers })

export type LogLine = Record<string, unknown>

/** The process's stdout lines that parse as JSON objects. */
export const logLines = (proc: GatewayProcess): Array<LogLine> =>
  linesOf(proc.stdout()).flatMap((line) => {
    try {
      const value: unknown = JSON.parse(line)
      return typeof value === "object" && value !== null && !Array.isArray(value) ? [value as LogLine] : []
    } catch {
      return []
    }
  })

/** Every string inside a value (object fields and array elements, recursively). */
export const stringsIn = (value: unknown): Array<string> =>
  typeof value === "string"
    ? [value]
    : Array.isArray(value)
      ? value.flatMap(stringsIn)
      : typeof value === "object" && value !== null
        ? Object.values(value).flatMap(stringsIn)
        : []

/** Waits (bounded) for a log line that `match` accepts, and returns it. */
export const awaitLogLine = (
  proc: GatewayProcess,
  what: string,
  match: (line: LogLine) => boolean,
  timeoutMs = 5_000
): Effect.Effect<LogLine> =>
  eventually(
    Effect.suspend(() => {
      const found = logLines(proc).find(match)
      return found === undefined ? Effect.dieMessage(`no log line ${what} in stdout:\n${proc.stdout().slice(-3_000)}`) : Effect.succeed(found)
    }),
    { timeoutMs, intervalMs: 50 }
  )

/** The access log line of the request with this X-Request-ID, if written. */
export const accessLineOf = (proc: GatewayProcess, requestId: string): LogLine | undefined =>
  logLines(proc).find((l) => l.msg === "HTTP request" && l.request_id === requestId)
