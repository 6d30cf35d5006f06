// Tracing from the gateway as `npm start` runs it: dist/gateway.mjs, the bundle compiled afresh
// and from the code cache the loader writes beside it. node 20 loses a vm.Script's dynamic-import
// callback when V8 takes its code cache, and the OTLP exporter loaded node:http with import():
// from a cache every export failed, silently, while the in-process tracing tests (run from the
// sources) passed. `npm test` builds dist/ first; run `npm run build` before running this alone.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { freePort } from "../support/HttpBackend.js"
import { eventually, send } from "../support/HttpClient.js"
import { repoRoot, spawnGateway, waitForReady, writeConfig } from "../support/ProcessGateway.js"
import { startTracingReceiver, type TracingReceiver, waitForTrace } from "../support/TracingReceiver.js"

const dist = join(repoRoot, "dist")
const codeCaches = () => readdirSync(dist).filter((f) => /^gateway\.cjs\..+\.cache$/.test(f))

/**
 * One start of dist/gateway.mjs: a request carrying a sampled trace reaches the receiver as a
 * server span. `untilCached`: the process is kept until a code cache is in dist/ (the loader
 * writes one 5 s after a start without one), for at most that many ms.
 */
const startAndTrace = (receiver: TracingReceiver, configPath: string, env: Record<string, string>, traceId: string, untilCached = 0) =>
  Effect.scoped(Effect.gen(function* () {
    const port = yield* freePort
    const proc = yield* spawnGateway({ CONFIG_PATH: configPath, SERVER_PORT: String(port), ...env })
    const base = `http://127.0.0.1:${port}`
    yield* waitForReady(proc, `${base}/health/liveness`, 30_000)
    const reply = yield* send(`${base}/version`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } })
    assert.strictEqual(reply.status, 200)
    const spans = yield* waitForTrace(receiver, traceId, 10_000).pipe(Effect.mapError((e) => new Error(`${String(e)}\nstderr:\n${proc.stderr()}`)))
    assert.strictEqual(spans.filter((s) => s.kind === 2).length, 1)
    if (untilCached > 0) {
      yield* eventually(Effect.suspend(() => (codeCaches().length > 0 ? Effect.void : Effect.fail("no code cache in dist/"))), { timeoutMs: untilCached, intervalMs: 100 })
    }
  }))

describe("dist/gateway.mjs with tracing on", () => {
  it("the bundle holds no import(): a script compiled from V8's code cache cannot run one", () => {
    const bundle = readFileSync(join(dist, "gateway.cjs"), "latin1")
    const at = bundle.search(/\bimport\(/)
    assert.strictEqual(at, -1, `an import() in dist/gateway.cjs: ${bundle.slice(Math.max(0, at - 120), at + 60)}`)
  })

  it.scopedLive("exports its spans compiled afresh, while writing its code cache, and started from that cache", () =>
    Effect.gen(function* () {
      const receiver = yield* startTracingReceiver
      const configPath = yield* writeConfig([
        "server: {host: 127.0.0.1, mode: test}",
        "auth: {enabled: false}",
        "health: {check_services: false}",
        "features: {enable_tracing: true}",
        `tracing: {endpoint: "${receiver.url}", service_name: bundle-tracing-test, sample_ratio: 1.0}`,
        "logging: {level: warn}",
        ""
      ].join("\n"))
      const traced = (env: Record<string, string>, traceId: string, untilCached = 0) => startAndTrace(receiver, configPath, env, traceId, untilCached)
      // compiled afresh, no cache read or written
      yield* traced({ GATEWAY_CODE_CACHE: "off" }, "4bf92f3577b34da6a3ce929d0e0e4736")
      // reads a cache if a process (this one or another test's) wrote one, else lives until one is written
      yield* traced({}, "5bf92f3577b34da6a3ce929d0e0e4736", 15_000)
      assert.isAbove(codeCaches().length, 0, "no code cache was written")
      // from the cache
      yield* traced({}, "6bf92f3577b34da6a3ce929d0e0e4736")
    }), 90_000)
})
