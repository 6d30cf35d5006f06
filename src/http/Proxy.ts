// The proxy step (SPEC §4 Proxying, Retries): the first attempt is plain undici outside
// any fiber; only after a retryable failure does the request enter an Effect fiber that
// retries on the Schedule, each attempt admitted and recorded by the breaker.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { maxEntryBytes } from "../domain/CacheRules.js"
import { BadGateway, BodyTooLarge, type GatewayError, GatewayTimeout } from "../domain/Errors.js"
import { type AttemptFailure, attemptFailure, mayRetry, retryableStatus, retrySchedule } from "../domain/Retry.js"
import { RetryBudget } from "../domain/RetryBudget.js"
import type { ServiceName } from "../domain/ServiceName.js"
import { formatTraceParent, newSpanId, newTraceId, newUnsampledTraceParent, parseTraceParent, traceIdOf } from "../domain/TraceParent.js"
import type { Breaker, Ticket } from "../services/Breaker.js"
import { type GatewayMetrics, methodLabel } from "../services/Metrics.js"
import type { UpstreamStats } from "../services/UpstreamStats.js"
import { type AttemptResult, AttemptSignal, type Upstream, type UpstreamResponse } from "../services/Upstream.js"
import type { ApiEndpoint } from "./Plan.js"
import { setField } from "./FieldList.js"
import { clientResponseHeaders, upstreamRequestHeaders } from "./ProxyHeaders.js"
import { bufferBody, LimitedBody } from "./RequestBody.js"
import type { RequestContext } from "./RequestContext.js"
import { encodeFor } from "./Encode.js"
import { writeHead } from "./ResponseHeaders.js"
import { makeUpstreamMetrics } from "./UpstreamMetrics.js"
import { hasBody } from "./Validate.js"

export interface ProxyDeps {
  readonly upstream: Upstream["Type"]
  readonly breaker: Breaker["Type"]
  readonly metrics: GatewayMetrics
  readonly upstreamStats: UpstreamStats["Type"]
  readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>
  readonly fail: (ctx: RequestContext, error: GatewayError) => void
  /** A bug while answering: 500, or the connection cut once headers are out. */
  readonly onDefect: (ctx: RequestContext, defect: unknown) => void
}

/** Told how the forward ended; the cache stage stores and shares responses through it. */
export type ForwardObserver = (
  outcome:
    | { readonly _tag: "Response"; readonly status: number; readonly headers: Record<string, string | Array<string>>; readonly body: Buffer }
    | { readonly _tag: "Error"; readonly error: GatewayError }
    | { readonly _tag: "Unshared" }
) => void
type Stop = { readonly _tag: "Stop"; readonly reason: "deadline" | "breaker" | "client" }

const toError = (service: ServiceName, f: AttemptFailure): GatewayError =>
  f.kind === "timeout"
    ? new GatewayTimeout({ service, detail: f.detail })
    : new BadGateway({ service, kind: f.kind === "connection_refused" || f.kind === "reset" ? f.kind : "bad_response", detail: f.detail })

const discard = (res: UpstreamResponse | undefined) => res?.body.discard()

export const makeForwarder = (deps: ProxyDeps) => {
  const upstreamSeries = makeUpstreamMetrics(deps.metrics)
  const budgets = new Map<ServiceName, RetryBudget>()
  const budgetOf = (service: ServiceName, ratio: number) => {
    let b = budgets.get(service)
    if (b === undefined) budgets.set(service, (b = new RetryBudget(ratio)))
    b.ratio = ratio
    return b
  }

  return (ctx: RequestContext, endpoint: ApiEndpoint, firstTicket: Ticket, observer?: ForwardObserver): void => {
    const { config } = ctx.plan
    const { req, res } = ctx
    const service = endpoint.service
    const svc = config.services[service]
    const method = req.method ?? "GET"
    const idempotencyKey = req.headers["idempotency-key"] !== undefined
    const deadline = ctx.arrivedAt + config.server.write_timeout
    const budget = budgetOf(service, config.retry.budget_ratio)
    const gone = new AttemptSignal()
    ctx.clientGone = gone
    budget.enter()
    let left = false
    const leave = () => {
      if (!left) budget.leave()
      left = true
    }
    // the callbacks below run outside the handler's try: a throw there (a backend header node
    // refuses to set…) would leave the client, its coalesced followers and the retry budget waiting
    const recover = (defect: unknown) => {
      leave()
      deps.onDefect(ctx, defect)
      observer?.({ _tag: "Unshared" })
    }

    const incoming = parseTraceParent(req.headers.traceparent)
    let traceparent: string
    if (incoming === undefined && ctx.trace === undefined && ctx.traceId === undefined) {
      traceparent = newUnsampledTraceParent() // a new trace, not recorded: the common case, one flat string
      ctx.traceId = traceIdOf(traceparent)
    } else {
      ctx.traceId ??= incoming?.traceId ?? newTraceId()
      traceparent = formatTraceParent(ctx.traceId, newSpanId(), ctx.trace !== undefined || (incoming?.sampled ?? false))
    }
    const headers = upstreamRequestHeaders(req, {
      host: req.headers.host ?? "",
      requestId: ctx.requestId,
      forwardedFor: ctx.forwardedFor,
      proto: ctx.proto,
      traceparent,
      tracestate: incoming === undefined ? undefined : (req.headers.tracestate as string | undefined),
      identity: ctx.identity,
      hideCredentials: config.auth.hide_credentials
    })
    const path = ctx.target === undefined ? "/" : ctx.target.query === "" ? ctx.target.raw : `${ctx.target.raw}?${ctx.target.query}`
    const upstream = upstreamSeries(service, methodLabel(method))
    const observe = (status: string, seconds: number) => {
      upstream.record(status, seconds)
      deps.upstreamStats.record(service, status, seconds)
    }

    let attempts = 0
    const attempt = (ticket: Ticket, body: Buffer | LimitedBody | typeof req | undefined, done: (r: AttemptResult) => void): AttemptSignal => {
      const signal = new AttemptSignal()
      attempts++
      // a sampled request: one span per attempt, whose id is the parent the backend sees
      const span = ctx.trace?.child(`upstream ${service}`, {
        "gateway.service": service,
        "gateway.attempt": attempts,
        "http.request.method": method,
        "url.full": `${svc.url}${path}`
      })
      if (span !== undefined) setField(headers, "traceparent", formatTraceParent(ctx.traceId!, span.spanId, true))
      const timeoutMs = Math.min(svc.timeout, deadline - Date.now())
      const onGone = () => signal.abort("client")
      if (gone.aborted) onGone()
      gone.addEventListener("abort", onGone)
      const timer = setTimeout(() => signal.abort("timeout"), Math.max(0, timeoutMs))
      const started = performance.now()
      const settle = (r: AttemptResult, outcome: "success" | "failure" | "neither", status: string) => {
        clearTimeout(timer)
        gone.removeEventListener("abort", onGone)
        observe(status, (performance.now() - started) / 1000)
        span?.end(status === "error" ? ("failed" in r ? r.failed.kind : "error") : Number(status) >= 500 ? `status ${status}` : undefined)
        deps.breaker.recordNow(ticket, outcome)
        done(r)
      }
      deps.upstream.send(service, { method, path, headers, body, signal, timeoutMs }, (r) => {
        try {
          if ("ok" in r) return settle(r, r.ok.status >= 500 ? "failure" : "success", String(r.ok.status))
          const kind = r.failed.kind
          if (kind !== "aborted") deps.metrics.upstreamErrors.labels(service, kind === "status" ? "bad_response" : kind).inc()
          settle(r, kind === "aborted" ? "neither" : "failure", "error")
        } catch (defect) {
          recover(defect)
        }
      })
      return signal
    }

    const deliver = (up: UpstreamResponse) => {
      try {
        pass(up)
      } catch (defect) {
        discard(up)
        recover(defect)
      }
    }

    const pass = (up: UpstreamResponse) => {
      if (res.destroyed || gone.aborted) {
        discard(up)
        observer?.({ _tag: "Unshared" })
        return leave()
      }
      const headers = clientResponseHeaders(up.headers)
      if (ctx.cache !== undefined) ctx.responseHeaders.set("x-cache", ctx.cache.status)
      const encoder = encodeFor(ctx, up.status, headers)
      writeHead(ctx, up.status, headers)
      // a copy of at most 1 MiB for the cache and the coalesced followers
      let copy: Array<Buffer> | undefined = observer === undefined ? undefined : []
      let settled = false
      const finish = (ok: boolean) => {
        if (settled) return
        settled = true
        leave()
        observer?.(ok && copy !== undefined ? { _tag: "Response", status: up.status, headers, body: Buffer.concat(copy) } : { _tag: "Unshared" })
      }
      const body = up.body
      // the client left: stop reading from the backend (the handler aborts `gone` when the
      // response closes unfinished)
      gone.addEventListener("abort", () => {
        if (settled) return
        body.cancel()
        finish(false)
      })
      const target = encoder ?? res // the cache's copy below is taken before compression
      if (encoder !== undefined) {
        encoder.once("error", () => res.destroy())
        encoder.pipe(res)
      }
      const resume = () => body.resume()
      // the chunk that completes a body of declared length ends the response with it: node's
      // `write` corks the socket and uncorks it on a nextTick, `end(chunk)` in one go (its end
      // follows in the same parser run, so nothing waits for it)
      const declared = up.headers["content-length"]
      const length = typeof declared === "string" ? Number(declared) : Number.NaN
      let ended = false
      body.flow({
        data: (chunk) => {
          ctx.responseBytes += chunk.length
          if (copy !== undefined) {
            if (ctx.responseBytes > maxEntryBytes) copy = undefined
            else copy.push(chunk)
          }
          if (ctx.responseBytes === length) {
            ended = true
            target.end(chunk)
            return true
          }
          if (target.write(chunk)) return true
          target.once("drain", resume)
          return false
        },
        end: () => {
          if (!ended) target.end()
          finish(true)
        },
        error: () => {
          finish(false)
          // headers are out: a backend failing mid-body aborts the client's connection (SPEC §4)
          if (!gone.aborted) deps.metrics.upstreamErrors.labels(service, "reset").inc()
          res.destroy()
        }
      })
    }

    const giveUp = (failure: AttemptFailure, held: UpstreamResponse | undefined) => {
      if (held !== undefined) return deliver(held) // the last backend response, when one arrived
      leave()
      if (ctx.bodyTooLarge) return deps.fail(ctx, new BodyTooLarge({ limit: config.server.max_body_bytes }))
      if (failure.kind === "aborted") return observer?.({ _tag: "Unshared" })
      const error = toError(service, failure)
      observer?.({ _tag: "Error", error })
      deps.fail(ctx, error)
    }

    const retryable = (f: AttemptFailure) => svc.max_retries > 0 && !gone.aborted && mayRetry(f, method, idempotencyKey)

    const retry = (first: AttemptFailure, firstHeld: UpstreamResponse | undefined, body: Buffer | undefined) => {
      if (Date.now() >= deadline || !budget.tryStartRetrying()) return giveUp(first, firstHeld)
      let replay = true
      let held = firstHeld
      let last = first
      const once: Effect.Effect<UpstreamResponse, AttemptFailure | Stop> = Effect.suspend(() => {
        if (replay) {
          replay = false
          return Effect.fail(first)
        }
        return Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (now >= deadline) return Effect.fail<Stop>({ _tag: "Stop", reason: "deadline" }) // no attempt starts after it
          if (gone.aborted) return Effect.fail<Stop>({ _tag: "Stop", reason: "client" }) // nobody is waiting for it
          return deps.breaker.admit(service).pipe(
            Effect.mapError((): Stop => ({ _tag: "Stop", reason: "breaker" })),
            Effect.flatMap((ticket) =>
              Effect.async<UpstreamResponse, AttemptFailure>((resume) => {
                const signal = attempt(ticket, body, (r) => {
                  if ("failed" in r) return resume(Effect.fail((last = r.failed)))
                  if (!retryableStatus(r.ok.status)) return resume(Effect.succeed(r.ok))
                  discard(held)
                  held = r.ok
                  resume(Effect.fail((last = attemptFailure("status", false, `status ${r.ok.status}`, r.ok.status))))
                })
                return Effect.sync(() => signal.abort("shutdown"))
              })
            )
          )
        })
      })
      const schedule = retrySchedule({
        initialIntervalMs: config.retry.initial_interval,
        maxIntervalMs: config.retry.max_interval,
        multiplier: config.retry.multiplier,
        jitter: true
      }, svc.max_retries)
      const retried = once.pipe(Effect.retry({ schedule, while: (e) => e._tag === "AttemptFailure" && retryable(e) }))
      deps.runFork(retried).addObserver((exit) => {
        budget.stopRetrying()
        if (exit._tag === "Success") {
          discard(held)
          return deliver(exit.value)
        }
        try {
          giveUp(last, held)
        } catch (defect) {
          recover(defect)
        }
      })
    }

    const first = (body: Buffer | LimitedBody | typeof req | undefined) =>
      attempt(firstTicket, body, (r) => {
        const replayable = body === undefined || Buffer.isBuffer(body) ? body : undefined
        if ("ok" in r) {
          if (retryableStatus(r.ok.status) && replayable === body) {
            const status = attemptFailure("status", false, `status ${r.ok.status}`, r.ok.status)
            if (retryable(status)) return retry(status, r.ok, replayable)
          }
          return deliver(r.ok)
        }
        if (retryable(r.failed) && replayable === body) return retry(r.failed, undefined, replayable)
        giveUp(r.failed, undefined)
      })

    if (!hasBody(req)) return void first(undefined)
    const limit = config.server.max_body_bytes
    if (svc.max_retries > 0) {
      return bufferBody(req, limit, (body) => {
        if (body === "too-large") {
          ctx.bodyTooLarge = true
          deps.breaker.recordNow(firstTicket, "neither")
          return giveUp(attemptFailure("aborted", true, "request body too large"), undefined)
        }
        if (body === "aborted") {
          deps.breaker.recordNow(firstTicket, "neither")
          return leave()
        }
        ctx.requestBytes = body.length
        first(body)
      })
    }
    if (req.headers["content-length"] !== undefined) return void first(req)
    const limited = new LimitedBody(limit, () => (ctx.bodyTooLarge = true))
    limited.on("end", () => (ctx.requestBytes = limited.size))
    first(req.pipe(limited))
  }
}
