// SPEC §4 WebSocket: an upgrade that passed the checks dials the service, then is
// accepted with the backend's subprotocol and relayed until either side closes.
// Sessions keep the config snapshot they started with (SPEC §1: SIGHUP leaves them alone).
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import { type WebSocket, WebSocketServer } from "ws"
import { BadGateway, type GatewayError, Overloaded, UpgradeRequired } from "../domain/Errors.js"
import type { RequestContext } from "../http/RequestContext.js"
import { type Dial, dialBackend } from "../http/WebSocketBackend.js"
import { holdUpgrade } from "../http/WebSocketHold.js"
import { backendHeaders, backendUrl, handshakeProblem, offeredProtocols } from "../http/WebSocketHandshake.js"
import { type Relay, relay } from "../http/WebSocketRelay.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { LogSink } from "../services/LogSink.js"
import { Metrics } from "../services/Metrics.js"
import { WebSockets } from "../services/WebSockets.js"

type Fail = (ctx: RequestContext, error: GatewayError) => void

// a full gateway sheds clients that would reconnect at once: they are told to wait
const retryAfterMs = 5_000
const shuttingDown = () => new Overloaded({ what: "the gateway is shutting down", retryAfterMs })
const clientLeft = (service: string) => new BadGateway({ service, kind: "reset", detail: "the client went away" })

export const WebSocketsLive = Layer.scoped(
  WebSockets,
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const sink = yield* LogSink
    const config = yield* GatewayConfig

    // slots: sessions dialling or open on the client's side, what max_connections bounds
    let slots = 0
    let closing = false
    const dialling = new Set<Dial>()
    const sessions = new Set<Relay>()
    const idleWaiters = new Set<() => void>()
    const checkIdle = () => {
      if (dialling.size === 0 && sessions.size === 0) for (const wake of idleWaiters) wake()
    }
    // interruptible: closeAll runs in a finalizer, where a timeout would otherwise wait for it
    const idle = Effect.interruptible(Effect.async<void>((resume) => {
      if (dialling.size === 0 && sessions.size === 0) return resume(Effect.void)
      const wake = () => {
        idleWaiters.delete(wake)
        resume(Effect.void)
      }
      idleWaiters.add(wake)
      return Effect.sync(() => idleWaiters.delete(wake))
    }))

    const picked = new WeakMap<IncomingMessage, string | false>()
    const makeServer = (maxPayload: number) =>
      new WebSocketServer({
        noServer: true,
        clientTracking: false,
        perMessageDeflate: false,
        maxPayload,
        handleProtocols: (_offered, req) => picked.get(req) ?? false
      })
    let server = makeServer((yield* config.current).config.websocket.max_frame_bytes)
    const serverFor = (maxPayload: number) => (server.options.maxPayload === maxPayload ? server : (server = makeServer(maxPayload)))

    const refuse = (ctx: RequestContext, fail: Fail, error: GatewayError) => {
      fail(ctx, error)
      ctx.upgrade?.socket.end() // the refusal is the connection's last word
    }

    const accept = (ctx: RequestContext, socket: Duplex, head: Buffer, backend: WebSocket, protocol: string | undefined, release: () => void) => {
      const orphaned = () => {
        backend.terminate()
        release()
      }
      socket.once("close", orphaned) // ws destroys a socket it cannot upgrade, without calling back
      picked.set(ctx.req, protocol ?? false)
      serverFor(ctx.plan.config.websocket.max_frame_bytes).handleUpgrade(ctx.req, socket, head, (client) => {
        socket.off("close", orphaned)
        ctx.res.statusCode = 101
        metrics.websocketConnections.inc()
        const session = relay(client, backend, {
          clientClosed: (end) => {
            release()
            metrics.websocketConnections.dec()
            sink.write("info", "WebSocket closed", {
              request_id: ctx.requestId,
              route: ctx.endpoint?.template,
              service: ctx.plan.config.websocket.service,
              close_code: end.code,
              closed_by: end.closedBy,
              duration_ms: Math.round(performance.now() - ctx.startedAt),
              client_ip: ctx.clientIp,
              caller: ctx.caller
            })
          },
          finished: () => {
            sessions.delete(session)
            checkIdle()
          }
        }, ctx.plan.config.websocket.ping_interval)
        sessions.add(session)
      })
    }

    const proxy = (ctx: RequestContext, fail: Fail): void => {
      const { websocket, services } = ctx.plan.config
      const upgrade = ctx.upgrade
      if (upgrade === undefined) return fail(ctx, new UpgradeRequired())
      const problem = handshakeProblem(ctx.req)
      if (problem !== undefined) return refuse(ctx, fail, problem)
      if (closing) return refuse(ctx, fail, shuttingDown())
      if (slots >= websocket.max_connections) {
        return refuse(ctx, fail, new Overloaded({ what: `WebSocket limit of ${websocket.max_connections} reached`, retryAfterMs }))
      }
      slots++
      let released = false
      const release = () => {
        if (released) return
        released = true
        slots--
      }
      const protocols = offeredProtocols(ctx.req) ?? []
      const service = services[websocket.service]
      let dial: Dial | undefined
      const clientGone = () => dial?.abort(clientLeft(websocket.service))
      const held = holdUpgrade(upgrade.socket, upgrade.head, websocket.max_frame_bytes)
      try {
        dial = dialBackend(
          {
            service: websocket.service,
            url: backendUrl(service.url, websocket.backend_path, ctx.target?.query ?? ""),
            headers: backendHeaders(ctx, protocols),
            protocols,
            timeoutMs: service.timeout,
            maxPayload: websocket.max_frame_bytes
          },
          (result) => {
            if (dial !== undefined) dialling.delete(dial)
            upgrade.socket.off("close", clientGone)
            const head = held.release()
            if (result._tag === "Open" && !closing && !upgrade.socket.destroyed) accept(ctx, upgrade.socket, head, result.socket, result.protocol, release)
            else {
              if (result._tag === "Open") result.socket.terminate()
              release()
              refuse(ctx, fail, result._tag === "Failed" ? result.error : shuttingDown())
            }
            checkIdle()
          }
        )
      } catch (defect) {
        release()
        return refuse(ctx, fail, new BadGateway({ service: websocket.service, kind: "bad_response", detail: String(defect) }))
      }
      dialling.add(dial)
      upgrade.socket.once("close", clientGone)
    }

    const closeAll = Effect.fn("WebSockets.closeAll")(function* () {
      closing = true
      if (dialling.size === 0 && sessions.size === 0) return
      yield* Effect.logInfo("closing WebSockets").pipe(Effect.annotateLogs({ open: sessions.size, dialling: dialling.size }))
      for (const dial of dialling) dial.abort(shuttingDown())
      for (const session of sessions) session.goAway()
      const grace = Math.min((yield* config.current).config.server.shutdown_timeout, 5_000)
      const closedInTime = yield* Effect.timeoutTo(idle, { duration: grace, onSuccess: () => true, onTimeout: () => false })
      if (!closedInTime) {
        yield* Effect.logWarning("WebSockets did not close in time: terminating them").pipe(Effect.annotateLogs({ open: sessions.size }))
        for (const session of sessions) session.terminate()
        yield* Effect.timeoutOption(idle, 1_000)
      }
    })

    yield* Effect.addFinalizer(() => closeAll().pipe(Effect.ensuring(Effect.sync(() => server.close()))))
    return WebSockets.of({ proxy, closeAll: closeAll(), open: () => slots })
  })
)
