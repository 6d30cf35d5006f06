// Backends for the proxy suites (STYLE 2.9): real node:http servers, and raw node:net
// servers for what an HTTP server cannot send (garbage, a reset mid-body), on 127.0.0.1
// port 0, closed with the scope that started them. Each records what reached it, including
// whether the exchange was cut before the backend finished its answer.
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http"
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net"
import { makeTestGateway } from "./TestGateway.js"

export interface Seen {
  readonly method: string
  /** The request target exactly as it arrived (path and query). */
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly rawHeaders: ReadonlyArray<string>
  /** The `case` query parameter, which groups the requests of one test. */
  readonly caseId: string | undefined
  /** 0 for the first request of its case, 1 for the second… */
  readonly attempt: number
  /** The complete body, once it has arrived. */
  body: Buffer | undefined
  /** performance.now() when the response was cut before the backend finished it. */
  abortedAt: number | undefined
}

/** Called once the request body has arrived. */
export type Respond = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void

export interface ProxyBackend {
  readonly port: number
  readonly url: string
  /** Every request, in arrival order, recorded when its head arrived. */
  readonly seen: Array<Seen>
  /** The requests of one case (`?case=<id>`). */
  readonly ofCase: (id: string) => ReadonlyArray<Seen>
  /** What the backend does; a test may switch it. */
  respond: Respond
}

const caseOf = (url: string): string | undefined => new URL(url, "http://backend").searchParams.get("case") ?? undefined

/** Writes a JSON answer. */
export const json = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string | Array<string>> = {}): void => {
  const body = JSON.stringify(value)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers })
  res.end(body)
}

/** Never answers: the gateway (or the scope's end) has to cut it. */
export const hang: Respond = () => {}

/** 200 with the request's method, URL, headers and body, for what the backend saw. */
export const echo: Respond = (req, res, seen) =>
  json(res, 200, { method: req.method, url: req.url, bytes: seen.body?.length ?? 0 })

export const startProxyBackend = (respond: Respond = echo): Effect.Effect<ProxyBackend, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly close: () => Promise<void>; readonly backend: ProxyBackend }>((resume) => {
      const seen: Array<Seen> = []
      const server = createServer((req, res) => {
        const url = req.url ?? ""
        const caseId = caseOf(url)
        const entry: Seen = {
          method: req.method ?? "",
          url,
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          caseId,
          attempt: caseId === undefined ? seen.length : seen.filter((s) => s.caseId === caseId).length,
          body: undefined,
          abortedAt: undefined
        }
        seen.push(entry)
        res.once("close", () => {
          if (!res.writableFinished) entry.abortedAt = performance.now()
        })
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("error", () => {})
        req.on("end", () => {
          entry.body = Buffer.concat(chunks)
          backend.respond(req, res, entry)
        })
      })
      server.keepAliveTimeout = 30_000
      const backend: ProxyBackend = {
        port: 0,
        url: "",
        seen,
        ofCase: (id) => seen.filter((s) => s.caseId === id),
        respond
      }
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        Object.assign(backend, { port, url: `http://127.0.0.1:${port}` })
        resume(Effect.succeed({
          backend,
          close: () =>
            new Promise<void>((done) => {
              server.closeAllConnections()
              server.close(() => done())
            })
        }))
      })
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ backend }) => backend))

export interface RawBackend {
  readonly port: number
  readonly url: string
  /** Connections accepted so far. */
  readonly connections: () => number
}

/** A node:net server whose every connection is handed to `onConnection`. */
export const startRawBackend = (onConnection: (socket: Socket) => void): Effect.Effect<RawBackend, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly close: () => Promise<void>; readonly backend: RawBackend }>((resume) => {
      const sockets = new Set<Socket>()
      let accepted = 0
      const server = createNetServer((socket) => {
        accepted++
        sockets.add(socket)
        socket.on("error", () => {})
        socket.once("close", () => sockets.delete(socket))
        onConnection(socket)
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          backend: { port, url: `http://127.0.0.1:${port}`, connections: () => accepted },
          close: () =>
            new Promise<void>((done) => {
              for (const s of sockets) s.destroy()
              server.close(() => done())
            })
        }))
      })
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ backend }) => backend))

/** Answers every request with bytes that are not HTTP, then closes. */
export const garbageOnConnection = (socket: Socket): void => {
  socket.once("data", () => socket.end("SPDY/9 \u0000\u0001 this is not a status line\r\n\r\n"))
}

/** Sends a 200 head promising `declared` bytes, a part of them, then resets the connection. */
export const resetMidBody = (declared: number, sent: number) => (socket: Socket): void => {
  socket.once("data", () => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`)
    socket.write(Buffer.alloc(sent, 0x61), () => setTimeout(() => socket.resetAndDestroy(), 30))
  })
}

type Doc = Record<string, unknown>

/**
 * Acquires the backends first, then builds the gateway from the config `configure` derives
 * from them; the tests reach the backends through `tag`. The gateway closes before them.
 */
export const gatewayAfter = <I, S>(tag: Context.Tag<I, S>, acquire: Effect.Effect<S, never, Scope.Scope>, configure: (s: S) => Doc) =>
  Layer.unwrapScoped(
    Effect.map(acquire, (backends) => makeTestGateway(configure(backends)).pipe(Layer.merge(Layer.succeed(tag, backends))))
  )

/** The service block for one backend: a 2 s timeout (room for a loaded machine) unless a test times out on purpose. */
export const serviceAt = (url: string, options: { readonly timeout?: string; readonly max_retries?: number } = {}): Doc => ({
  url,
  timeout: options.timeout ?? "2s",
  max_retries: options.max_retries ?? 2
})

/** Fast backoff for the suites: jitter keeps each delay within [0.8, 1.2] of these. */
export const fastRetry: Doc = { initial_interval: "20ms", max_interval: "100ms" }

/** A live breaker that never trips, for suites about something else. */
export const quietBreaker: Doc = { min_requests: 1000 }
