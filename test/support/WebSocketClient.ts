// The client side of the WebSocket suites: a ws client through the gateway, its
// messages as a queue, its close as a value; every wait is bounded.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { IncomingHttpHeaders } from "node:http"
import { connect as tcpConnect } from "node:net"
import { WebSocket } from "ws"
import { HttpListener } from "../../src/http/Server.js"

export interface Message {
  readonly text: string
  readonly binary: boolean
  readonly bytes: number
}

export interface Closed {
  readonly code: number
  readonly reason: string
}

export interface TestClient {
  readonly socket: WebSocket
  /** Messages not yet taken with `receive`. */
  readonly inbox: Array<Message>
  /** Set when the socket closed. */
  readonly closed: () => Closed | undefined
  readonly wake: Set<() => void>
}

export type Opened =
  | { readonly _tag: "Open"; readonly client: TestClient }
  | { readonly _tag: "Refused"; readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: string }

export interface ConnectOptions {
  readonly query?: string
  readonly headers?: Record<string, string>
  readonly protocols?: ReadonlyArray<string>
  readonly path?: string
}

export const wsUrl = Effect.map(HttpListener, ({ port }) => `ws://127.0.0.1:${port}`)

const bounded = <A, E, R>(self: Effect.Effect<A, E, R>, what: string, timeoutMs: number) =>
  Effect.timeoutFail(self, { duration: timeoutMs, onTimeout: () => new Error(`${what}: nothing within ${timeoutMs} ms`) }).pipe(Effect.orDie)

/** Opens a WebSocket through the gateway at `base`; terminated with the scope. */
export const connectTo = (base: string, options: ConnectOptions = {}): Effect.Effect<Opened, never, Scope.Scope> =>
  Effect.gen(function* () {
    const url = `${base}${options.path ?? "/ws"}${options.query === undefined ? "" : `?${options.query}`}`
    const socket = yield* Effect.acquireRelease(
      Effect.sync(() => new WebSocket(url, [...(options.protocols ?? [])], { headers: options.headers ?? {} })),
      (s) => Effect.sync(() => s.terminate())
    )
    const inbox: Array<Message> = []
    const wake = new Set<() => void>()
    let closed: Closed | undefined
    const notify = () => {
      for (const w of wake) w()
    }
    socket.on("message", (data, binary) => {
      const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)
      inbox.push({ text: buffer.toString("utf8"), binary, bytes: buffer.length })
      notify()
    })
    socket.on("close", (code, reason) => {
      closed = { code, reason: reason.toString("utf8") }
      notify()
    })
    return yield* bounded(
      Effect.async<Opened>((resume) => {
        socket.once("open", () => resume(Effect.succeed({ _tag: "Open", client: { socket, inbox, closed: () => closed, wake } })))
        socket.on("error", (error) => resume(Effect.dieMessage(`WebSocket failed: ${error.message}`)))
        socket.once("unexpected-response", (req, res) => {
          let body = ""
          res.setEncoding("utf8").on("data", (s: string) => void (body += s))
          res.on("end", () => {
            req.destroy()
            resume(Effect.succeed({ _tag: "Refused", status: res.statusCode ?? 0, headers: res.headers, body }))
          })
        })
      }),
      "WebSocket handshake",
      5_000
    )
  })

export const connect = (options: ConnectOptions = {}) => Effect.flatMap(wsUrl, (base) => connectTo(base, options))

/** Connects and insists the upgrade succeeded. */
export const open = (options: ConnectOptions = {}) =>
  Effect.flatMap(connect(options), (o) =>
    o._tag === "Open" ? Effect.succeed(o.client) : Effect.dieMessage(`upgrade refused: ${o.status} ${o.body}`))

const waitFor = <A>(client: TestClient, take: () => A | undefined, what: string, timeoutMs: number) =>
  bounded(
    Effect.async<A>((resume) => {
      const check = () => {
        const value = take()
        if (value === undefined) return
        client.wake.delete(check)
        resume(Effect.succeed(value))
      }
      client.wake.add(check)
      check()
      return Effect.sync(() => client.wake.delete(check))
    }),
    what,
    timeoutMs
  )

/** The next message the client received. */
export const receive = (client: TestClient, timeoutMs = 3_000): Effect.Effect<Message> =>
  waitFor(client, () => client.inbox.shift(), "WebSocket message", timeoutMs)

/** How the client's socket closed. */
export const closedWith = (client: TestClient, timeoutMs = 3_000): Effect.Effect<Closed> =>
  waitFor(client, client.closed, "WebSocket close", timeoutMs)

export const sendText = (client: TestClient, text: string) => Effect.sync(() => client.socket.send(text))
export const sendBinary = (client: TestClient, bytes: Buffer) => Effect.sync(() => client.socket.send(bytes, { binary: true }))

/** An upgrade request head for `path` as a raw string, with a valid key and version. */
export const rawUpgrade = (path: string, headerLines: ReadonlyArray<string> = []): string =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${headerLines.map((h) => `${h}\r\n`).join("")}\r\n`

/**
 * Writes `payload` to a fresh connection and collects what comes back until `done` says
 * so (bounded); the connection stays open, never answering, until the scope closes.
 */
export const rawRead = (port: number, payload: Buffer, done: (data: Buffer) => boolean, timeoutMs = 3_000): Effect.Effect<Buffer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const socket = yield* Effect.acquireRelease(Effect.sync(() => tcpConnect(port, "127.0.0.1")), (s) => Effect.sync(() => s.destroy()))
    socket.on("error", () => {})
    let data = Buffer.alloc(0)
    return yield* bounded(
      Effect.async<Buffer>((resume) => {
        socket.on("data", (chunk: Buffer) => {
          data = Buffer.concat([data, chunk])
          if (done(data)) resume(Effect.succeed(data))
        })
        socket.write(payload)
      }),
      "raw WebSocket read",
      timeoutMs
    )
  })
