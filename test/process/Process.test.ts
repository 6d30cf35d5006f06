// The compiled gateway as a process (SPEC §1): refused configs, signals, the committed
// config.yaml. `npm test` builds dist/ first; run `npm run build` before running this alone.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { freePort, startBackend } from "../support/HttpBackend.js"
import { eventually, send } from "../support/HttpClient.js"
import { linesOf, spawnGateway, waitForExit, waitForReady, writeConfig } from "../support/ProcessGateway.js"

/** A process starts in about a second, more on a loaded machine: every wait inside is bounded too. */
const processTimeout = 60_000

const services = ["market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"]

const assertNoStackTrace = (stderr: string) => {
  for (const line of linesOf(stderr)) assert.notMatch(line, /^\s+at /, `a stack trace line in stderr: ${line}`)
}

describe("Process", () => {
  it.scopedLive("refuses a bad config with exit code 2 and one line per problem, without a stack trace", () =>
    Effect.gen(function* () {
      const path = yield* writeConfig([
        "server:",
        "  host: 127.0.0.1",
        "  mode: test",
        "rate_limit:",
        "  global:",
        "    burst: \"abc\"",
        "rate_limt: {}",
        ""
      ].join("\n"))
      const proc = yield* spawnGateway({ CONFIG_PATH: path, SERVER_PORT: String(yield* freePort) })
      const { code } = yield* waitForExit(proc, 15_000)
      const lines = linesOf(proc.stderr())
      assert.strictEqual(code, 2, `stderr:\n${proc.stderr()}`)
      assert.include(lines, "rate_limit.global.burst: expected a positive integer, got \"abc\"")
      assert.isTrue(lines.some((l) => l.startsWith("rate_limt:")), `a line for the unknown key in:\n${proc.stderr()}`)
      assert.strictEqual(lines.length, 2, `one line per problem, both at once:\n${proc.stderr()}`)
      assertNoStackTrace(proc.stderr())
    }), processTimeout)

  it.scopedLive("refuses placeholder secrets in release mode with exit code 2, naming the keys", () =>
    Effect.gen(function* () {
      const path = yield* writeConfig([
        "server:",
        "  host: 127.0.0.1",
        "  mode: release",
        "auth:",
        "  enabled: true",
        "  jwt_secret: test-secret-key",
        "  api_keys:",
        "    - { key: admin-key-change-this, role: admin, name: admin-console }",
        "    - { key: operator-key-change-this, role: operator, name: trading-desk }",
        "    - { key: viewer-key-change-this, role: viewer, name: read-only-dashboard }",
        ""
      ].join("\n"))
      const proc = yield* spawnGateway({ CONFIG_PATH: path, SERVER_PORT: String(yield* freePort) })
      const { code } = yield* waitForExit(proc, 15_000)
      const lines = linesOf(proc.stderr())
      assert.strictEqual(code, 2, `stderr:\n${proc.stderr()}`)
      assert.isTrue(lines.some((l) => l.startsWith("auth.jwt_secret")), `a line naming auth.jwt_secret in:\n${proc.stderr()}`)
      assert.isTrue(lines.some((l) => l.startsWith("auth.api_keys")), `a line naming auth.api_keys in:\n${proc.stderr()}`)
      assertNoStackTrace(proc.stderr())
    }), processTimeout)

  it.scopedLive("on SIGTERM answers readiness 503, finishes the request in flight and exits 0", () =>
    Effect.gen(function* () {
      const slow = yield* startBackend((req, res) => {
        const timer = setTimeout(() => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end("{\"status\":\"ok\"}")
        }, 800)
        req.socket.once("close", () => clearTimeout(timer))
      })
      const closed = `http://127.0.0.1:${yield* freePort}`
      const port = yield* freePort
      const path = yield* writeConfig([
        "server:",
        "  host: 127.0.0.1",
        "  mode: test",
        "  shutdown_delay: 500ms",
        "  shutdown_timeout: 5s",
        "auth: { enabled: false }",
        "rate_limit: { enabled: false }",
        "health: { check_services: true, service_timeout: 2s }",
        "logging: { level: info }",
        "services:",
        ...services.map((name) => `  ${name}: { url: "${name === "market_data" ? slow.url : closed}" }`),
        ""
      ].join("\n"))
      const proc = yield* spawnGateway({ CONFIG_PATH: path, SERVER_PORT: String(port) })
      const base = `http://127.0.0.1:${port}`
      yield* waitForReady(proc, `${base}/health/liveness`)

      const inFlight = yield* Effect.fork(send(`${base}/health`))
      yield* eventually(Effect.sync(() => assert.strictEqual(slow.hits("/health"), 1)), { timeoutMs: 3_000 })
      const signalled = performance.now()
      proc.child.kill("SIGTERM")

      const readiness = yield* eventually(
        Effect.flatMap(send(`${base}/health/readiness`), (res) => (res.status === 503 ? Effect.succeed(res) : Effect.fail(res.status))),
        { timeoutMs: 1_500, intervalMs: 20 }
      )
      assert.deepStrictEqual(readiness.json, { status: "not ready", reasons: ["shutting down"] })

      const health = yield* Fiber.join(inFlight).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(health.status, 200, "the request in flight at SIGTERM still completes")
      assert.strictEqual(health.json?.status, "degraded")
      assert.strictEqual((health.json?.services as Record<string, { status: string }> | undefined)?.market_data?.status, "healthy")

      const { code, signal } = yield* waitForExit(proc, 8_000)
      assert.strictEqual(code, 0, `exit ${code ?? signal}\nstderr:\n${proc.stderr()}`)
      assert.isAtLeast(performance.now() - signalled, 450, "it kept accepting for shutdown_delay")
      assertNoStackTrace(proc.stderr())
    }), processTimeout)

  it.scopedLive("serves the committed config.yaml like npm start and exits 0 on SIGTERM", () =>
    Effect.gen(function* () {
      const port = yield* freePort
      const proc = yield* spawnGateway({ SERVER_PORT: String(port) })
      const base = `http://127.0.0.1:${port}`
      yield* waitForReady(proc, `${base}/health/liveness`)
      const res = yield* send(`${base}/health/liveness`)
      assert.strictEqual(res.status, 200)
      assert.deepStrictEqual(res.json, { status: "alive" })
      proc.child.kill("SIGTERM")
      const { code, signal } = yield* waitForExit(proc, 10_000)
      assert.strictEqual(code, 0, `exit ${code ?? signal}\nstderr:\n${proc.stderr()}`)
    }), processTimeout)
})
