// server.workers (SPEC §7): two processes on one port, limits exact across them through the
// Redis store, /metrics aggregating both, SIGTERM draining both. Runs the compiled gateway.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Redis } from "ioredis"
import { freePort } from "../support/HttpBackend.js"
import { send } from "../support/HttpClient.js"
import { spawnGateway, waitForExit, waitForReady, writeConfig } from "../support/ProcessGateway.js"

const redisDb = 10
const burst = 30

const counterValue = (metrics: string, path: string, status: string): number => {
  const line = metrics.split("\n").find((l) => l.startsWith("api_gateway_http_requests_total{") && l.includes(`path="${path}"`) && l.includes(`status="${status}"`))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
}

describe("Workers", () => {
  it.scopedLive("two workers share one port, one Redis global limit and one /metrics", () =>
    Effect.gen(function* () {
      const redis = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(`redis://127.0.0.1:6379/${redisDb}`, { maxRetriesPerRequest: 1 })),
        (r) => Effect.promise(() => r.quit()).pipe(Effect.ignore)
      )
      yield* Effect.promise(() => redis.flushdb())
      const port = yield* freePort
      const path = yield* writeConfig([
        "server: {host: 127.0.0.1, mode: test, workers: 2}",
        "auth: {enabled: false}",
        "health: {check_services: false}",
        "rate_limit:",
        "  store: redis",
        `  redis_url: "redis://127.0.0.1:6379/${redisDb}"`,
        // a refill too slow to matter during the test: exactly the burst is admitted
        `  global: {requests_per_second: 0.001, burst: ${burst}}`,
        "  per_ip: {requests_per_minute: 100000, burst: 100000}",
        "  exempt_paths: [/health/liveness, /metrics]",
        "logging: {level: warn}",
        ""
      ].join("\n"))
      const proc = yield* spawnGateway({ CONFIG_PATH: path, SERVER_PORT: String(port) })
      const base = `http://127.0.0.1:${port}`
      yield* waitForReady(proc, `${base}/health/liveness`, 30_000)
      // a fresh connection per request, so the cluster spreads them over the workers
      const statuses = yield* Effect.forEach(Array.from({ length: burst * 2 }), () =>
        send(`${base}/version`, { headers: { connection: "close" } }).pipe(Effect.map((r) => r.status)), { concurrency: 8 })
      assert.strictEqual(statuses.filter((s) => s === 200).length, burst, `admitted: ${JSON.stringify(statuses)}`)
      assert.strictEqual(statuses.filter((s) => s === 429).length, burst)
      const metrics = (yield* send(`${base}/metrics`)).text
      // aggregated over both workers: every request counted once, wherever it landed
      assert.strictEqual(counterValue(metrics, "/version", "200") + counterValue(metrics, "/version", "429"), burst * 2)
      const workers = proc.child.pid === undefined ? [] : yield* Effect.promise(async () => {
        const { execFileSync } = await import("node:child_process")
        return execFileSync("pgrep", ["-P", String(proc.child.pid)], { encoding: "utf8" }).trim().split("\n").filter((l) => l !== "")
      })
      assert.strictEqual(workers.length, 2, "two worker processes under the primary")
      proc.child.kill("SIGTERM")
      const status = yield* waitForExit(proc, 20_000)
      assert.strictEqual(status.code, 0)
    }), 90_000)
})
