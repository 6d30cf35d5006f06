// The main listener: node:http (PERFORMANCE.md), opened and closed as a scoped resource.
// Closing it is SPEC §1's graceful shutdown: readiness 503 at once, keep accepting for
// shutdown_delay, stop accepting, let in-flight requests finish within shutdown_timeout.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { readFileSync } from "node:fs"
import { createServer, type IncomingMessage, type Server, type ServerOptions, ServerResponse } from "node:http"
import { createServer as createTlsServer } from "node:https"
import { createSecureContext } from "node:tls"
import type { GatewayConfig as Config } from "../domain/GatewayConfig.js"
import { ConfigInvalid } from "../layers/GatewayConfigFile.js"
import type { AddressInfo, Socket } from "node:net"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Lifecycle } from "../services/Lifecycle.js"
import { LogSink } from "../services/LogSink.js"
import { Metrics } from "../services/Metrics.js"
import { WebSockets } from "../services/WebSockets.js"
import { answerClientError } from "./ClientError.js"
import { writeAccessLine } from "./Observe.js"
import { Handler } from "./Handler.js"

export class HttpListener extends Context.Tag("gateway/HttpListener")<
  HttpListener,
  { readonly host: string; readonly port: number }
>() {}

/** tls.cert_file / key_file read and checked at start: a bad file stops start-up, naming the key. */
const readTls = (config: Config) =>
  Effect.try({
    try: () => {
      const problems: Array<string> = []
      const read = (key: "cert_file" | "key_file") => {
        const path = config.tls[key]!
        try {
          return readFileSync(path)
        } catch (e) {
          problems.push(`tls.${key}: cannot read ${path}: ${(e as Error).message}`)
          return Buffer.alloc(0)
        }
      }
      const cert = read("cert_file")
      const key = read("key_file")
      if (problems.length > 0) throw problems
      const minVersion = config.tls.min_version === "1.3" ? "TLSv1.3" as const : "TLSv1.2" as const
      try {
        createSecureContext({ cert, key, minVersion })
      } catch (e) {
        throw [`tls: the certificate and key cannot be used together: ${(e as Error).message}`]
      }
      return { cert, key, minVersion }
    },
    catch: (problems) => new ConfigInvalid({ path: "tls", problems: Array.isArray(problems) ? problems : [String(problems)] })
  })

const listen = (server: Server, port: number, host: string) =>
  Effect.async<AddressInfo, Error>((resume) => {
    const onError = (e: Error) => resume(Effect.fail(e))
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resume(Effect.succeed(server.address() as AddressInfo))
    })
  })

export const ServerLive = Layer.scoped(
  HttpListener,
  Effect.gen(function* () {
    const gatewayConfig = yield* GatewayConfig
    const { config } = yield* gatewayConfig.current
    const { handle } = yield* Handler
    const metrics = yield* Metrics
    const lifecycle = yield* Lifecycle
    const websockets = yield* WebSockets
    const sink = yield* LogSink
    // features.enable_access_log as the running config has it (a reload may change it)
    let accessLog = config.features.enable_access_log
    yield* gatewayConfig.changes.pipe(
      Stream.runForEach((snapshot) => Effect.sync(() => (accessLog = snapshot.config.features.enable_access_log))),
      Effect.forkScoped
    )
    const s = config.server

    let inFlight = 0
    let onDrained: (() => void) | undefined
    const closed = () => {
      if (--inFlight === 0) onDrained?.()
    }
    // counted out by the handler's own close listener (one listener a response, not two); a
    // throw out of the handler comes before it listens (it answers 500 for anything after)
    const counted = (req: IncomingMessage, res: ServerResponse, upgrade?: { socket: Socket; head: Buffer }) => {
      inFlight++
      try {
        handle(req, res, upgrade, closed)
      } catch (defect) {
        closed()
        throw defect
      }
    }

    const options: ServerOptions = {
      requestTimeout: s.read_timeout,
      headersTimeout: s.read_timeout,
      keepAliveTimeout: s.idle_timeout,
      maxHeaderSize: s.max_header_bytes,
      // node checks request timeouts on this period (30 s by default): keep read_timeout honest
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, s.read_timeout / 4))
    }
    const tls = config.tls.enabled ? yield* readTls(config) : undefined
    const server: Server = tls === undefined
      ? createServer(options, counted)
      : createTlsServer({ ...options, ...tls }, counted)
    if (tls !== undefined) {
      // a TLS handshake that fails is the client's problem, not a crash
      server.on("tlsClientError", (_error, socket) => socket.destroy())
    }
    server.on("connection", (socket) => {
      metrics.activeConnections.inc()
      socket.once("close", () => metrics.activeConnections.dec())
    })
    // upgrades run the same pipeline; a response object on the raw socket answers refusals
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const res = new ServerResponse(req)
      res.shouldKeepAlive = false
      res.assignSocket(socket)
      socket.on("error", () => socket.destroy())
      res.once("finish", () => socket.end()) // a refused upgrade: nothing follows its answer
      counted(req, res, { socket, head })
    })
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
      const clientIp = socket.remoteAddress ?? "" // read before the answer closes the socket
      const reply = answerClientError(error, socket)
      if (reply === undefined) return
      metrics.httpRequests.inc({ method: "OTHER", path: "unmatched", status: String(reply.status) })
      // refused before any handler ran: no method, path or headers were read (node's parser refused them)
      if (!accessLog || !sink.enabled("info")) return
      writeAccessLine(sink, {
        request_id: reply.requestId,
        method: "",
        path: "",
        route: "unmatched",
        query: "",
        status: reply.status,
        duration_ms: 0,
        client_ip: clientIp,
        user_agent: "",
        request_size: 0,
        response_size: reply.responseBytes,
        refused_by: error.code ?? "parser"
      })
    })

    const address = yield* listen(server, s.port, s.host)
    yield* Effect.logInfo("gateway listening").pipe(
      Effect.annotateLogs({ host: address.address, port: address.port, mode: s.mode })
    )

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        lifecycle.beginShutdown()
        yield* Effect.logInfo("shutting down").pipe(Effect.annotateLogs({ in_flight: inFlight }))
        yield* Effect.sleep(s.shutdown_delay)
        const closed = Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
        })
        server.closeIdleConnections()
        yield* websockets.closeAll
        if (inFlight > 0) {
          // a finalizer cannot be interrupted, so Effect.timeout could not cut this wait (nor
          // could Effect.interruptible: the pending interrupt would skip it): one callback with its own timer
          const finished = yield* Effect.async<boolean>((resume) => {
            const bound = setTimeout(() => resume(Effect.succeed(false)), s.shutdown_timeout)
            onDrained = () => {
              clearTimeout(bound)
              resume(Effect.succeed(true))
            }
          })
          if (!finished) {
            yield* Effect.logWarning("shutdown timeout: closing the remaining connections").pipe(
              Effect.annotateLogs({ in_flight: inFlight })
            )
          }
        }
        server.closeAllConnections()
        yield* closed
        yield* Effect.logInfo("listener closed")
      })
    )
    return HttpListener.of({ host: address.address, port: address.port })
  })
)
