// A ws echo backend on loopback port 0 for the WebSocket suites: it records every
// upgrade that reached it and every close it saw, and obeys a few text commands:
// "close:<code>:<reason>" closes with that code, "die" drops the TCP connection, "freeze"
// stops reading (and so answering pings) without closing.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { type WebSocket, WebSocketServer } from "ws"
import { makeTestGateway } from "./TestGateway.js"

export interface BackendUpgrade {
  readonly url: string
  readonly headers: IncomingHttpHeaders
  /** The subprotocols offered, in order. */
  readonly protocols: ReadonlyArray<string>
}

export interface BackendClose {
  readonly code: number
  readonly reason: string
}

export interface WsBackend {
  readonly url: string
  readonly upgrades: Array<BackendUpgrade>
  readonly closes: Array<BackendClose>
  /** Sessions open on the backend right now. */
  readonly open: () => number
}

/** The subprotocols the echo backend speaks: it picks the first the client offers. */
export const backendProtocols = ["dash.v2", "dash.v1"]

const echo = (socket: WebSocket, closes: Array<BackendClose>) => {
  socket.on("message", (data, isBinary) => {
    const text = isBinary ? "" : String(data)
    const command = /^close:(\d+):(.*)$/.exec(text)
    if (command !== null) return socket.close(Number(command[1]), command[2])
    if (text === "die") return socket.terminate()
    if (text === "freeze") return socket.pause() // reads nothing more, so answers no ping: a hung backend
    socket.send(data, { binary: isBinary })
  })
  socket.on("close", (code, reason) => void closes.push({ code, reason: reason.toString("utf8") }))
  socket.on("error", () => {})
}

/** Listens on a free loopback port; `stop` destroys every open connection, then closes. */
const listenStoppable = (server: Server, ready: (port: number, stop: () => Promise<void>) => void): void => {
  const sockets = new Set<Socket>()
  server.on("connection", (s) => {
    sockets.add(s)
    s.once("close", () => sockets.delete(s))
  })
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    ready(port, () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy()
        server.close(() => done())
      }))
  })
}

/** The echo backend; `pick` chooses the subprotocol it answers (default: the first of backendProtocols offered). */
export const makeWsBackend = (
  pick: (offered: Set<string>) => string | false = (offered) => [...offered].find((p) => backendProtocols.includes(p)) ?? false
): Effect.Effect<WsBackend, never, Scope.Scope> => Effect.acquireRelease(
  Effect.async<{ readonly backend: WsBackend; readonly stop: () => Promise<void> }>((resume) => {
    const upgrades: Array<BackendUpgrade> = []
    const closes: Array<BackendClose> = []
    let open = 0
    const wss = new WebSocketServer({ noServer: true, handleProtocols: pick })
    const server = createServer((_req, res) => res.writeHead(404).end())
    server.on("upgrade", (req, socket, head) => {
      const offered = req.headers["sec-websocket-protocol"]
      upgrades.push({ url: req.url ?? "", headers: req.headers, protocols: offered === undefined ? [] : offered.split(",").map((p) => p.trim()) })
      wss.handleUpgrade(req, socket, head, (ws) => {
        open++
        ws.once("close", () => void open--)
        echo(ws, closes)
      })
    })
    listenStoppable(server, (port, stop) =>
      resume(Effect.succeed({ backend: { url: `http://127.0.0.1:${port}`, upgrades, closes, open: () => open }, stop })))
  }),
  ({ stop }) => Effect.promise(stop)
).pipe(Effect.map(({ backend }) => backend))

export const startWsBackend = makeWsBackend()

/** A TCP server that accepts connections and never answers: a backend that hangs. */
export const startSilentBackend: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly stop: () => Promise<void> }>((resume) => {
    const server = createServer(() => {})
    server.on("upgrade", () => {}) // never answered
    listenStoppable(server, (port, stop) => resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, stop })))
  }),
  ({ stop }) => Effect.promise(stop)
).pipe(Effect.map(({ url }) => url))

export class WsBackendTag extends Context.Tag("test/WsBackend")<WsBackendTag, WsBackend>() {}

/** The echo backend, then a gateway whose dashboard_server (the WebSocket service) is it. */
export const gatewayWithWsBackend = (configure: (backendUrl: string) => Record<string, unknown>) =>
  Layer.unwrapScoped(
    Effect.map(startWsBackend, (backend) =>
      makeTestGateway(configure(backend.url)).pipe(Layer.merge(Layer.succeed(WsBackendTag, backend))))
  )
