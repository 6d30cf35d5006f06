// The request handler node:http calls. Wrappers (recovery, request id, CORS, access log
// and metrics) surround the typed checks; the checks' Exit is turned into a response here
// and only here, through ErrorResponse.toErrorReply.
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { BadGateway, type GatewayError } from "../domain/Errors.js"
import { BuildInfo } from "../services/BuildInfo.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Health } from "../services/Health.js"
import { Lifecycle } from "../services/Lifecycle.js"
import { LogSink } from "../services/LogSink.js"
import { Metrics } from "../services/Metrics.js"
import { checks, type Decision } from "./Checks.js"
import { internalErrorReply, toErrorReply } from "./ErrorResponse.js"
import { makeObserver } from "./Observe.js"
import { compilePlan } from "./Plan.js"
import { makePublicEndpoints } from "./PublicEndpoints.js"
import { pickRequestId, type RequestContext, socketAddress } from "./RequestContext.js"
import { sendError } from "./Respond.js"

export class Handler extends Context.Tag("gateway/Handler")<
  Handler,
  { readonly handle: (req: IncomingMessage, res: ServerResponse) => void }
>() {}

export const HandlerLive = Layer.scoped(
  Handler,
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const runSync = Runtime.runSyncExit(runtime)
    const runFork = Runtime.runFork(runtime)
    const config = yield* GatewayConfig
    const metrics = yield* Metrics
    const sink = yield* LogSink
    const lifecycle = yield* Lifecycle
    let plan = compilePlan((yield* config.current).config)
    yield* config.changes.pipe(
      Stream.runForEach((snapshot) => Effect.sync(() => (plan = compilePlan(snapshot.config)))),
      Effect.forkScoped
    )

    const observe = makeObserver(metrics, sink)
    const onDefect = (ctx: RequestContext, defect: unknown) => {
      sink.write("error", "request failed unexpectedly", {
        request_id: ctx.requestId,
        error: Cause.isCause(defect) ? Cause.pretty(defect) : defect instanceof Error ? defect.stack : String(defect)
      })
      sendError(ctx, internalErrorReply)
    }
    const servePublic = makePublicEndpoints({ health: yield* Health, metrics, version: yield* BuildInfo, runFork, onDefect })

    const fail = (ctx: RequestContext, error: GatewayError) => sendError(ctx, toErrorReply(error))

    const act = (ctx: RequestContext, decision: Decision) => {
      switch (decision._tag) {
        case "Public":
          return servePublic(ctx, decision.endpoint)
        case "Forward":
          return fail(ctx, new BadGateway({ service: decision.endpoint.service, kind: "connection_refused", detail: "proxying is not enabled" }))
      }
    }

    const settle = (ctx: RequestContext, exit: Exit.Exit<Decision, GatewayError>) => {
      if (Exit.isSuccess(exit)) return act(ctx, exit.value)
      const failure = Cause.failureOption(exit.cause)
      return Option.isSome(failure) ? fail(ctx, failure.value) : onDefect(ctx, exit.cause)
    }

    const handle = (req: IncomingMessage, res: ServerResponse): void => {
      const current = plan
      const requestId = pickRequestId(req.headers["x-request-id"], randomUUID)
      const length = req.headers["content-length"]
      const ctx: RequestContext = {
        req,
        res,
        requestId,
        startedAt: performance.now(),
        plan: current,
        clientIp: socketAddress(req),
        target: undefined,
        endpoint: undefined,
        caller: undefined,
        traceId: undefined,
        requestBytes: length === undefined ? 0 : Number(length) || 0,
        responseBytes: 0
      }
      res.setHeader("x-request-id", requestId)
      if (lifecycle.isShuttingDown()) res.setHeader("connection", "close")
      res.once("close", () => observe(ctx))
      try {
        if (current.cors !== undefined) {
          if (current.cors.preflight(req.method, req.headers, res)) return
          current.cors.decorate(req.headers, res)
        }
        settle(ctx, runSync(checks(ctx)))
      } catch (defect) {
        onDefect(ctx, defect) // recovery: a bug in one request answers 500 and harms no other
      }
    }

    return Handler.of({ handle })
  })
)
