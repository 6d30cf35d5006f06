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
import type { IncomingMessage, ServerResponse } from "node:http"
import { resolveClient } from "../domain/ClientIp.js"
import type { GatewayError } from "../domain/Errors.js"
import { newRequestId } from "../domain/RequestId.js"
import { Auth } from "../services/Auth.js"
import { Breaker } from "../services/Breaker.js"
import { Cache } from "../services/Cache.js"
import { BuildInfo } from "../services/BuildInfo.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Health } from "../services/Health.js"
import { Lifecycle } from "../services/Lifecycle.js"
import { LogSink } from "../services/LogSink.js"
import { Metrics } from "../services/Metrics.js"
import { RateLimiter } from "../services/RateLimiter.js"
import { Upstream } from "../services/Upstream.js"
import { UpstreamStats } from "../services/UpstreamStats.js"
import { Tracing } from "../services/Tracing.js"
import { WebSockets } from "../services/WebSockets.js"
import { makeCachedForward, makeCacheKeys, serveEntry } from "./CacheStage.js"
import { type Decision, makeChecks } from "./Checks.js"
import { credentialsOf, withQueryToken } from "./Credentials.js"
import { runStep } from "./Eager.js"
import { internalErrorReply, toErrorReply } from "./ErrorResponse.js"
import { makeObserver } from "./Observe.js"
import { compilePlan } from "./Plan.js"
import { makeForwarder } from "./Proxy.js"
import { makePublicEndpoints } from "./PublicEndpoints.js"
import { pickRequestId, type RequestContext, socketAddress } from "./RequestContext.js"
import { sendError } from "./Respond.js"
import { ResponseHeaders } from "./ResponseHeaders.js"

export class Handler extends Context.Tag("gateway/Handler")<
  Handler,
  {
    /** `closed` runs when the response closes (finished or aborted), before it is logged and counted. */
    readonly handle: (req: IncomingMessage, res: ServerResponse, upgrade?: RequestContext["upgrade"], closed?: () => void) => void
  }
>() {}

export const HandlerLive = Layer.scoped(
  Handler,
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const runSync = Runtime.runSync(runtime)
    const runFork = Runtime.runFork(runtime)
    const config = yield* GatewayConfig
    const metrics = yield* Metrics
    const sink = yield* LogSink
    const lifecycle = yield* Lifecycle
    const breaker = yield* Breaker
    const auth = yield* Auth
    const limiter = yield* RateLimiter
    const cache = yield* Cache
    const websockets = yield* WebSockets
    const tracing = yield* Tracing
    const clock = yield* Effect.clock
    let plan = compilePlan((yield* config.current).config)
    const cacheKeys = makeCacheKeys(plan.config.cache.max_entries)
    const checks = makeChecks({ breaker, auth, metrics, limiter, cache, cacheKeys })
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
      try {
        sendError(ctx, internalErrorReply)
      } catch {
        ctx.res.destroy() // the last resort cannot answer either: the client sees the connection end
      }
    }
    const servePublic = makePublicEndpoints({ health: yield* Health, metrics, version: yield* BuildInfo, runFork, onDefect })

    const fail = (ctx: RequestContext, error: GatewayError) => sendError(ctx, toErrorReply(error))
    const forward = makeForwarder({ upstream: yield* Upstream, upstreamStats: yield* UpstreamStats, breaker, metrics, runFork, fail, onDefect })
    const now = () => clock.unsafeCurrentTimeMillis()
    const forwardCached = makeCachedForward({ forward, cache, cacheKeys, breaker, now, runSync, runFork, fail })

    const act = (ctx: RequestContext, decision: Decision) => {
      switch (decision._tag) {
        case "Public":
          return servePublic(ctx, decision.endpoint)
        case "CacheHit":
          return serveEntry(ctx, decision.entry, now())
        case "Upgrade":
          return websockets.proxy(ctx, fail)
        case "Forward":
          return forwardCached(ctx, decision.endpoint, decision.ticket)
      }
    }

    // the one place a check's Exit becomes a response; a callback's resume or a fiber's observer
    // runs outside handle's try: a bug here answers 500 too, never hangs the client
    const settle = (ctx: RequestContext, exit: Exit.Exit<Decision, GatewayError>): void => {
      try {
        if (Exit.isSuccess(exit)) return act(ctx, exit.value)
        const failure = Cause.failureOption(exit.cause)
        if (Option.isSome(failure)) return fail(ctx, failure.value)
        onDefect(ctx, exit.cause)
      } catch (defect) {
        onDefect(ctx, defect)
      }
    }

    const handle = (req: IncomingMessage, res: ServerResponse, upgrade?: RequestContext["upgrade"], closed?: () => void): void => {
      const current = plan
      const requestId = pickRequestId(req.headers["x-request-id"], newRequestId)
      const length = req.headers["content-length"]
      const forwarded = req.headers["x-forwarded-for"]
      const client = resolveClient(socketAddress(req), typeof forwarded === "string" ? forwarded : forwarded?.join(", "), current.trustedProxies)
      const ctx: RequestContext = {
        req,
        res,
        responseHeaders: new ResponseHeaders(),
        requestId,
        startedAt: performance.now(),
        arrivedAt: Date.now(),
        plan: current,
        clientIp: client.clientIp,
        forwardedFor: client.forwardedFor,
        proto: "encrypted" in req.socket ? "https" : "http",
        target: undefined,
        endpoint: undefined,
        caller: undefined,
        identity: undefined,
        cache: undefined,
        clientGone: undefined,
        bodyTooLarge: false,
        upgrade,
        traceId: undefined,
        trace: undefined,
        requestBytes: length === undefined ? 0 : Number(length) || 0,
        responseBytes: 0
      }
      res.on("close", () => { // emitted once; `on` skips once's wrapper
        closed?.()
        if (!res.writableFinished) ctx.clientGone?.abort("client") // a client that leaves aborts its upstream request
        observe(ctx)
      })
      try {
        ctx.responseHeaders.set("x-request-id", requestId)
        if (lifecycle.isShuttingDown()) ctx.responseHeaders.set("connection", "close")
        const trace = (ctx.trace = !tracing.enabled ? undefined : tracing.start({
          method: req.method ?? "GET",
          startedAt: ctx.startedAt,
          traceparent: req.headers.traceparent,
          attributes: () => ({
            "http.request.method": req.method ?? "GET",
            "url.path": (req.url ?? "/").split("?")[0]!,
            "url.scheme": ctx.proto,
            "client.address": ctx.clientIp,
            "network.protocol.version": req.httpVersion,
            "user_agent.original": req.headers["user-agent"] ?? ""
          })
        }))
        if (trace !== undefined) ctx.traceId = trace.traceId
        if (current.cors !== undefined) {
          if (current.cors.preflight(ctx)) return
          current.cors.decorate(req.headers, ctx.responseHeaders)
        }
        const headerCredentials = current.config.auth.enabled ? credentialsOf(req.headers) : undefined
        const credentials = headerCredentials !== undefined && upgrade !== undefined ? withQueryToken(headerCredentials, req.url) : headerCredentials
        // settled stores and a known key or token: an Exit already; a Redis reply: its callback;
        // a JWT to verify: a fiber (Eager.ts)
        runStep(checks(ctx, credentials), runFork, (exit) => settle(ctx, exit))
      } catch (defect) {
        onDefect(ctx, defect) // recovery: a bug in one request answers 500 and harms no other
      }
    }

    return Handler.of({ handle })
  })
)
