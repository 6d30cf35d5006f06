import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { HttpListener } from "../../src/http/Server.js"
import { WebSockets } from "../../src/services/WebSockets.js"
import { freePort, startBackend } from "../support/HttpBackend.js"
import { eventually } from "../support/HttpClient.js"
import { makeTestGateway } from "../support/TestGateway.js"
import { wsAuth, wsKeys } from "../support/WebSocketAuth.js"
import { makeWsBackend, startSilentBackend, startWsBackend } from "../support/WebSocketBackend.js"
import { closedWith, connectTo, type Opened, rawRead, rawUpgrade, receive, sendText } from "../support/WebSocketClient.js"

const headers = { "x-api-key": wsKeys.viewer }

/** A gateway whose WebSocket service is at `url`, in its own scope the test closes. */
const startGateway = (url: string, timeout = "2s", shutdownTimeout = "2s") =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const ctx = yield* Layer.buildWithScope(
      makeTestGateway({ auth: wsAuth, services: { dashboard_server: { url, timeout } }, server: { shutdown_timeout: shutdownTimeout } }),
      scope
    )
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const port = Context.get(ctx, HttpListener).port
    return { scope, port, base: `ws://127.0.0.1:${port}`, websockets: Context.get(ctx, WebSockets) }
  })

const refusal = (opened: Opened) => {
  assert.strictEqual(opened._tag, "Refused")
  return opened._tag === "Refused" ? { status: opened.status, error: JSON.parse(opened.body).error as unknown } : undefined
}

describe("WebSocketLifecycle", () => {
  it.scopedLive("answers 502 when the service refuses the connection", () =>
    Effect.gen(function* () {
      const { base } = yield* startGateway(`http://127.0.0.1:${yield* freePort}`)
      assert.deepStrictEqual(refusal(yield* connectTo(base, { headers })), { status: 502, error: "Bad gateway" })
    }))

  it.scopedLive("answers 502 when the service answers the upgrade with plain HTTP", () =>
    Effect.gen(function* () {
      const backend = yield* startBackend()
      const { base } = yield* startGateway(backend.url)
      assert.deepStrictEqual(refusal(yield* connectTo(base, { headers })), { status: 502, error: "Bad gateway" })
    }))

  it.scopedLive("answers 504 when the service does not complete the handshake within its timeout", () =>
    Effect.gen(function* () {
      const { base } = yield* startGateway(yield* startSilentBackend, "200ms")
      const started = performance.now()
      assert.deepStrictEqual(refusal(yield* connectTo(base, { headers })), { status: 504, error: "Gateway timeout" })
      assert.isAtLeast(performance.now() - started, 150)
    }))

  it.scopedLive("answers 502 when the service picks a subprotocol the client did not offer", () =>
    Effect.gen(function* () {
      const backend = yield* makeWsBackend(() => "evil")
      const { base, websockets } = yield* startGateway(backend.url)
      assert.deepStrictEqual(refusal(yield* connectTo(base, { headers, protocols: ["dash.v1"] })), { status: 502, error: "Bad gateway" })
      yield* eventually(Effect.sync(() => assert.strictEqual(websockets.open(), 0)))
    }))

  it.scopedLive("a client that leaves while its backend is dialled frees its slot", () =>
    Effect.gen(function* () {
      const { base, websockets } = yield* startGateway(yield* startSilentBackend, "10s")
      const pending = yield* Effect.fork(Effect.scoped(connectTo(base, { headers })))
      yield* eventually(Effect.sync(() => assert.strictEqual(websockets.open(), 1)))
      yield* Fiber.interrupt(pending)
      yield* eventually(Effect.sync(() => assert.strictEqual(websockets.open(), 0)))
    }))

  it.scopedLive("shutdown closes open WebSockets with 1001 on both sides, and the gauge returns to 0", () =>
    Effect.gen(function* () {
      const backend = yield* startWsBackend
      const { base, scope, websockets } = yield* startGateway(backend.url)
      const opened = yield* connectTo(base, { headers })
      if (opened._tag !== "Open") return assert.fail(`upgrade refused: ${opened.status}`)
      const client = opened.client
      yield* sendText(client, "before shutdown")
      assert.strictEqual((yield* receive(client)).text, "before shutdown")
      assert.strictEqual(websockets.open(), 1)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      assert.strictEqual((yield* closedWith(client, 5_000)).code, 1001)
      yield* Fiber.join(closing).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("shutdown did not finish") }))
      assert.strictEqual(websockets.open(), 0)
      yield* eventually(Effect.sync(() => assert.deepInclude(backend.closes.map((c) => c.code), 1001)))
    }))

  it.scopedLive("shutdown terminates a client that ignores the close frame, within shutdown_timeout", () =>
    Effect.gen(function* () {
      const backend = yield* startWsBackend
      const { port, scope, websockets } = yield* startGateway(backend.url, "2s", "300ms")
      yield* rawRead(port, Buffer.from(rawUpgrade("/ws", [`X-API-Key: ${wsKeys.viewer}`]), "latin1"), (d) => d.includes("\r\n\r\n"))
      assert.strictEqual(websockets.open(), 1)
      const started = performance.now()
      yield* Scope.close(scope, Exit.void)
      assert.isBelow(performance.now() - started, 3_000)
      assert.strictEqual(websockets.open(), 0)
    }))

  it.scopedLive("shutdown answers an upgrade still waiting for its backend with 503", () =>
    Effect.gen(function* () {
      const { base, scope, websockets } = yield* startGateway(yield* startSilentBackend, "10s")
      const pending = yield* Effect.fork(connectTo(base, { headers }))
      yield* eventually(Effect.sync(() => assert.strictEqual(websockets.open(), 1)))
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      assert.deepStrictEqual(refusal(yield* Fiber.join(pending)), { status: 503, error: "Service temporarily unavailable" })
      yield* Fiber.join(closing).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("shutdown did not finish") }))
    }))
})
