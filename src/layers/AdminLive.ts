// The operators' listener (issue #11, SPEC §2 admin.*): its own node:http server, so the
// admin API is never reachable through the main port; platform HttpServer and
// HttpLayerRouter serve it, off the request path (STYLE 2.7).
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import { AdminRoutes } from "../http/admin/AdminRoutes.js"
import { AdminListener } from "../services/AdminListener.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { AdminStatsLive } from "./AdminStatsLive.js"

const loopback = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/

const AdminServer = Layer.scoped(
  HttpServer.HttpServer,
  Effect.gen(function* () {
    const { host, port } = (yield* (yield* GatewayConfig).current).config.admin
    const server = createServer()
    const http = yield* NodeHttpServer.make(() => server, { host, port }).pipe(
      Effect.mapError((e) => new Error(`admin listener: cannot listen on ${host}:${port}: ${String((e.cause as Error | undefined)?.message ?? e.cause)}`))
    )
    // runs before the server's own close: a polling dashboard must not hold shutdown open
    yield* Effect.addFinalizer(() => Effect.sync(() => server.closeAllConnections()))
    return http
  })
)

const Listening = Layer.effect(
  AdminListener,
  Effect.gen(function* () {
    const address = (yield* HttpServer.HttpServer).address
    const bound = address._tag === "TcpAddress" ? { host: address.hostname, port: address.port } : { host: address.path, port: 0 }
    yield* Effect.logInfo("admin listener listening").pipe(Effect.annotateLogs(bound))
    if (!loopback.test(bound.host)) {
      yield* Effect.logWarning("the admin listener is bound beyond loopback: keep admin.port off public networks").pipe(Effect.annotateLogs(bound))
    }
    return AdminListener.of({ address: bound })
  })
)

export const AdminLive = Layer.merge(
  Listening,
  HttpLayerRouter.serve(AdminRoutes, { disableLogger: true, disableListenLog: true })
).pipe(
  Layer.provide(AdminServer),
  Layer.provide(AdminStatsLive)
)
