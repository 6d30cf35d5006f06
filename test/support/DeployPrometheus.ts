// A real Prometheus server for the end-to-end scrape test: loopback only, its own
// temporary TSDB, killed with the scope (SIGTERM, then SIGKILL), every wait bounded.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { stringify } from "yaml"
import { freePort } from "./HttpBackend.js"
import { eventually } from "./HttpClient.js"
import { readRepoYaml, repoPath } from "./DeployTools.js"

export interface PrometheusServer {
  readonly url: string
  readonly output: () => string
}

interface ScrapeConfig { readonly job_name: string; readonly static_configs?: ReadonlyArray<{ readonly labels?: Record<string, string> }> }
interface PrometheusConfig { readonly global?: Record<string, unknown>; readonly scrape_configs: ReadonlyArray<ScrapeConfig> }

/**
 * deploy/prometheus/prometheus.yml pointed at `target`: the same job, labels and metrics
 * path, the same alert rules (by absolute path), scraped and evaluated every second.
 */
export const scrapeConfigFor = (target: string): string => {
  const config = readRepoYaml("deploy", "prometheus", "prometheus.yml") as PrometheusConfig
  return stringify({
    ...config,
    global: { ...config.global, scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
    rule_files: [repoPath("deploy", "prometheus", "alerts.yml")],
    scrape_configs: config.scrape_configs.map((job) => ({
      ...job,
      static_configs: [{ targets: [target], labels: job.static_configs?.[0]?.labels ?? {} }]
    }))
  })
}

const stop = (child: ChildProcess, exited: Promise<void>) =>
  Effect.gen(function* () {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill("SIGTERM")
    const done = yield* Effect.promise(() => exited).pipe(Effect.timeout("5 seconds"), Effect.option)
    if (done._tag === "None") {
      child.kill("SIGKILL")
      yield* Effect.promise(() => exited).pipe(Effect.timeout("5 seconds"), Effect.ignore)
    }
  })

/** Starts `binary` with `configText` on a free loopback port and waits (bounded) until /-/ready answers 200. */
export const startPrometheus = (binary: string, configText: string): Effect.Effect<PrometheusServer, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "gateway-prometheus-test-"))),
      (d) => Effect.promise(() => rm(d, { recursive: true, force: true }))
    )
    yield* Effect.promise(() => writeFile(join(dir, "prometheus.yml"), configText, "utf8"))
    const port = yield* freePort
    let output = ""
    const { exited } = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(binary, [
          `--config.file=${join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
          "--storage.tsdb.retention.time=1h",
          "--log.level=warn"
        ], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
        child.stdout?.setEncoding("utf8").on("data", (s: string) => void (output += s))
        child.stderr?.setEncoding("utf8").on("data", (s: string) => void (output += s))
        return { child, exited }
      }),
      ({ child, exited }) => stop(child, exited)
    )
    const url = `http://127.0.0.1:${port}`
    const ready = eventually(
      Effect.tryPromise({ try: () => fetch(`${url}/-/ready`), catch: (e) => new Error(String(e)) }).pipe(
        Effect.filterOrFail((res) => res.status === 200, (res) => new Error(`/-/ready answered ${res.status}`))
      ),
      { timeoutMs: 30_000, intervalMs: 200 }
    )
    const died = Effect.flatMap(Effect.promise(() => exited), () =>
      Effect.fail(new Error(`prometheus exited before it was ready:\n${output}`)))
    yield* Effect.raceFirst(ready, died).pipe(
      Effect.mapError((e) => new Error(`prometheus did not become ready: ${e.message}\n${output}`))
    )
    return { url, output: () => output }
  })

export interface Sample {
  readonly metric: Readonly<Record<string, string>>
  readonly value: readonly [number, string]
}

/** GET /api/v1/query; fails on an HTTP or PromQL error, with Prometheus's message. */
export const query = (server: PrometheusServer, promql: string): Effect.Effect<Array<Sample>, Error> =>
  Effect.tryPromise({
    try: async () => {
      const res = await fetch(`${server.url}/api/v1/query?query=${encodeURIComponent(promql)}`)
      const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: unknown } }
      if (body.status !== "success") throw new Error(`${promql}: ${body.error ?? res.status}`)
      const result = body.data?.result
      return body.data?.resultType === "vector" ? (result as Array<Sample>) : [{ metric: {}, value: result as readonly [number, string] }]
    },
    catch: (e) => (e instanceof Error ? e : new Error(String(e)))
  })

/** GET an /api/v1 path and return its `data`. */
export const apiData = <A>(server: PrometheusServer, path: string): Effect.Effect<A, Error> =>
  Effect.tryPromise({
    try: async () => {
      const body = (await (await fetch(`${server.url}/api/v1/${path}`)).json()) as { status: string; data: A; error?: string }
      if (body.status !== "success") throw new Error(`${path}: ${body.error ?? "failed"}`)
      return body.data
    },
    catch: (e) => (e instanceof Error ? e : new Error(String(e)))
  })
