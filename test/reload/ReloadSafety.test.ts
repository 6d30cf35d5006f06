// SPEC §1 SIGHUP, what a reload must not disturb: an invalid file keeps the running config,
// restart-only keys keep their running values (reported as such), a request in flight and
// an open WebSocket keep what they started with. Runs `node dist/gateway.mjs`; `npm test`
// builds dist/ first, run `npm run build` before running this file alone.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { freePort, startBackend } from "../support/HttpBackend.js"
import { eventually, rawExchange, rawRequest } from "../support/HttpClient.js"
import {
  awaitLogLine, awaitReloads, getWith, reloadCount, reloadDoc, reloadKeys, startReloadGateway, stringsIn, viewerKey, yamlOf
} from "../support/ReloadProcess.js"
import { startWsBackend } from "../support/WebSocketBackend.js"
import { closedWith, connectTo, receive, sendText } from "../support/WebSocketClient.js"

const processTimeout = 60_000

const symbols = "/api/v1/market-data/symbols"
const withA = { "x-api-key": reloadKeys.a }
const withB = { "x-api-key": reloadKeys.b }

/** The invalid file of SPEC §1's example, with key B so that applying any of it would show. */
const invalidText = (port: number, backendUrl: string) =>
  yamlOf(reloadDoc(port, backendUrl, { auth: { api_keys: [viewerKey("b")] }, rate_limit: { global: { burst: "abc" } } }))

describe("ReloadSafety", () => {
  it.scopedLive("an invalid file is refused: the previous keys keep working, the problem is logged, result=\"failure\" counted", () =>
    Effect.gen(function* () {
      const backend = yield* startBackend()
      const gw = yield* startReloadGateway(backend.url)
      const text = invalidText(gw.port, backend.url)
      assert.include(text, "burst: abc", "the file carries the SPEC's bad value")

      yield* gw.reloadWith(text)

      const line = yield* awaitLogLine(gw.proc, "naming rate_limit.global.burst", (l) => stringsIn(l).some((s) => s.includes("rate_limit.global.burst")))
      assert.strictEqual(line.level, "error")
      assert.include(stringsIn(line), "rate_limit.global.burst: expected a positive integer, got \"abc\"", "the same message as at start")
      yield* awaitReloads(gw.base, "failure", 1)
      assert.strictEqual(yield* reloadCount(gw.base, "success"), 0)
      assert.strictEqual((yield* getWith(gw.base, symbols, withA)).status, 200, "the running key A still works")
      assert.strictEqual((yield* getWith(gw.base, symbols, withB)).status, 401, "nothing of the refused file applies")
      assert.isNull(gw.proc.child.exitCode, "the process keeps running")
      assert.notMatch(gw.proc.stdout() + gw.proc.stderr(), /\n\s+at /, "no stack trace")

      // and a valid file afterwards still applies
      yield* gw.reloadWith(yamlOf(reloadDoc(gw.port, backend.url, { auth: { api_keys: [viewerKey("b")] } })))
      yield* awaitReloads(gw.base, "success", 1)
      yield* eventually(
        Effect.flatMap(getWith(gw.base, symbols, withB), (r) => Effect.sync(() => assert.strictEqual(r.status, 200))),
        { timeoutMs: 5_000, intervalMs: 50 }
      )
      assert.strictEqual((yield* getWith(gw.base, symbols, withA)).status, 401, "key A, used before, is refused once a reload removes it")
    }), processTimeout)

  it.scopedLive("a changed server.port keeps serving on the old port and warns that `server` needs a restart", () =>
    Effect.gen(function* () {
      const backend = yield* startBackend()
      const gw = yield* startReloadGateway(backend.url)
      const newPort = yield* freePort

      yield* gw.reloadWith(yamlOf(reloadDoc(newPort, backend.url, { auth: { api_keys: [viewerKey("b")] } })))

      const warning = yield* awaitLogLine(gw.proc, "naming server as needing a restart", (l) =>
        l.level === "warn" && stringsIn(l).some((s) => s === "server" || s.startsWith("server.") || s.startsWith("server ")))
      assert.include(String(warning.msg), "restart")
      yield* awaitReloads(gw.base, "success", 1)
      // the rest of the file applied: key B works, on the old port
      yield* eventually(
        Effect.flatMap(getWith(gw.base, symbols, withB), (r) => Effect.sync(() => assert.strictEqual(r.status, 200))),
        { timeoutMs: 5_000, intervalMs: 50 }
      )
      assert.strictEqual((yield* getWith(gw.base, "/health/liveness")).status, 200)
      const onNewPort = yield* rawExchange(newPort, rawRequest("GET /health/liveness HTTP/1.1"), { timeoutMs: 1_000 })
      assert.isUndefined(onNewPort.status, "nothing answers on the new port until a restart")
    }), processTimeout)

  it.scopedLive("a request in flight across a SIGHUP completes with 200", () =>
    Effect.gen(function* () {
      const backend = yield* startBackend((req, res) => {
        const timer = setTimeout(() => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end("{\"slow\":true}")
        }, 1_000)
        req.socket.once("close", () => clearTimeout(timer))
      })
      const gw = yield* startReloadGateway(backend.url)
      const slowPath = "/api/v1/market-data/ticker/SLOW"
      const inFlight = yield* Effect.fork(getWith(gw.base, slowPath, withA))
      yield* eventually(Effect.sync(() => assert.strictEqual(backend.hits(slowPath), 1)), { timeoutMs: 3_000 })

      // the new file drops the key the request in flight was admitted with, and shortens the service timeout
      yield* gw.reloadWith(yamlOf(reloadDoc(gw.port, backend.url, {
        auth: { api_keys: [viewerKey("b")] },
        services: { market_data: { url: backend.url, timeout: "200ms", max_retries: 0 } }
      })))
      yield* awaitReloads(gw.base, "success", 1)
      yield* eventually(
        Effect.flatMap(getWith(gw.base, symbols, withA), (r) => Effect.sync(() => assert.strictEqual(r.status, 401))),
        { timeoutMs: 5_000, intervalMs: 50 }
      )

      const done = yield* Fiber.join(inFlight).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(done.status, 200, `the request in flight kept its settings: ${done.text}`)
      assert.deepStrictEqual(done.json, { slow: true })
      assert.strictEqual(backend.hits(slowPath), 1, "not retried")
    }), processTimeout)

  it.scopedLive("an open WebSocket stays open and keeps echoing across a SIGHUP", () =>
    Effect.gen(function* () {
      const ws = yield* startWsBackend
      const gw = yield* startReloadGateway(ws.url)
      const opened = yield* connectTo(`ws://127.0.0.1:${gw.port}`, { headers: withA })
      assert.strictEqual(opened._tag, "Open", opened._tag === "Refused" ? `refused ${opened.status} ${opened.body}` : "")
      if (opened._tag !== "Open") return
      const client = opened.client
      yield* sendText(client, "before")
      assert.strictEqual((yield* receive(client)).text, "before")

      yield* gw.reloadWith(yamlOf(reloadDoc(gw.port, ws.url, { auth: { api_keys: [viewerKey("b")] } })))
      yield* awaitReloads(gw.base, "success", 1)
      yield* eventually(
        Effect.flatMap(getWith(gw.base, symbols, withA), (r) => Effect.sync(() => assert.strictEqual(r.status, 401))),
        { timeoutMs: 5_000, intervalMs: 50 }
      )

      assert.isUndefined(client.closed(), "the socket is still open")
      yield* sendText(client, "after")
      assert.strictEqual((yield* receive(client)).text, "after", "still echoing, with the key the new file dropped")
      assert.strictEqual(ws.open(), 1, "one session on the backend")
      const refused = yield* connectTo(`ws://127.0.0.1:${gw.port}`, { headers: withA })
      assert.strictEqual(refused._tag, "Refused", "a new upgrade uses the new keys")
      if (refused._tag === "Refused") assert.strictEqual(refused.status, 401)
      yield* sendText(client, "close:1000:done")
      assert.strictEqual((yield* closedWith(client)).code, 1000)
    }), processTimeout)
})
