// Real node:http backends on loopback port 0 for the integration suites (STYLE 2.9):
// each records what reached it and is closed with the scope that started it.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { createServer as createNetServer } from "node:net"
import type { AddressInfo } from "node:net"
import { makeTestGateway } from "./TestGateway.js"

export interface RecordedRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  /** Filled in when the body has arrived. */
  body: string
}

export type BackendHandler = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void

export interface Backend {
  readonly port: number
  readonly url: string
  /** Every request, in arrival order, recorded as soon as its head arrived. */
  readonly requests: Array<RecordedRequest>
  /** How many requests asked for this path (query ignored). */
  readonly hits: (path: string) => number
}

/** Answers every request with 200 `{"ok":true}`. */
export const okHandler: BackendHandler = (_req, res) => {
  res.writeHead(200, { "content-type": "application/json" })
  res.end(JSON.stringify({ ok: true }))
}

/** A node:http server on 127.0.0.1, port 0, running `handler`; closed (connections too) with the scope. */
export const startBackend = (handler: BackendHandler = okHandler): Effect.Effect<Backend, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Server; readonly backend: Backend }>((resume) => {
      const requests: Array<RecordedRequest> = []
      const server = createServer((req, res) => {
        const recorded: RecordedRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: "" }
        requests.push(recorded)
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          recorded.body = Buffer.concat(chunks).toString("utf8")
          handler(req, res, recorded)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        const backend: Backend = {
          port,
          url: `http://127.0.0.1:${port}`,
          requests,
          hits: (path) => requests.filter((r) => r.url.split("?")[0] === path).length
        }
        resume(Effect.succeed({ server, backend }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ backend }) => backend))

/** A loopback port nothing listens on: bound to port 0, then released. */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = createNetServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** The backends a gateway layer was built against, by the names the test gave them. */
export class Backends extends Context.Tag("test/Backends")<Backends, Readonly<Record<string, Backend>>>() {}

type Doc = Record<string, unknown>

/**
 * Starts the named backends, then the gateway with the config `configure` derives from
 * their URLs; `Backends` gives the tests what reached them. Backends outlive the gateway.
 */
export const gatewayWithBackends = <K extends string>(
  handlers: Readonly<Record<K, BackendHandler>>,
  configure: (backends: Readonly<Record<K, Backend>>, closedUrl: string) => Doc
) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const entries = yield* Effect.forEach(Object.entries(handlers) as Array<[K, BackendHandler]>, ([name, handler]) =>
        Effect.map(startBackend(handler), (b) => [name, b] as const))
      const backends = Object.fromEntries(entries) as Record<K, Backend>
      const closedUrl = `http://127.0.0.1:${yield* freePort}`
      return makeTestGateway(configure(backends, closedUrl)).pipe(Layer.merge(Layer.succeed(Backends, backends)))
    })
  )

/** The backend the test named `name` when it built the gateway layer. */
export const backendNamed = (name: string): Effect.Effect<Backend, never, Backends> =>
  Effect.flatMap(Backends, (backends) => {
    const backend = backends[name]
    return backend === undefined ? Effect.dieMessage(`no backend named ${name}`) : Effect.succeed(backend)
  })
