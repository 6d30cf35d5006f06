import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Dispatcher, Pool } from "undici"
import { type AttemptFailure, attemptFailure } from "../domain/Retry.js"
import { type ServiceName, serviceNames } from "../domain/ServiceName.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import {
  type AttemptResult,
  type AttemptSignal,
  type BodySink,
  Upstream,
  type UpstreamBody,
  type UpstreamRequest
} from "../services/Upstream.js"

const neverSentCodes = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])

/** undici's failures mapped where they happen (STYLE 2.5). */
export const classify = (error: unknown, signal: AttemptSignal): AttemptFailure => {
  if (signal.aborted) {
    return signal.reason === "timeout"
      ? attemptFailure("timeout", false, "no response within the timeout")
      : attemptFailure("aborted", false, String(signal.reason))
  }
  const e = error as { code?: string; message?: string; cause?: { code?: string } }
  const code = e.code ?? e.cause?.code ?? ""
  const detail = e.message ?? String(error)
  if (code === "UND_ERR_CONNECT_TIMEOUT") return attemptFailure("timeout", true, detail)
  if (neverSentCodes.has(code)) return attemptFailure("connection_refused", true, code === "ECONNREFUSED" ? "connection refused" : detail)
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return attemptFailure("timeout", false, detail)
  if (code.startsWith("HPE_") || code === "UND_ERR_INVALID_ARG" || code === "UND_ERR_RES_CONTENT_LENGTH_MISMATCH") {
    return attemptFailure("bad_response", false, detail)
  }
  return attemptFailure("reset", false, detail)
}

/**
 * One attempt as an undici dispatch handler: `done` hears once, at the response's head or the
 * failure before it; the body is then passed chunk by chunk to the sink given to `flow`, with
 * undici's pause and resume for backpressure. Until there is a sink the backend is not read
 * past a chunk, which is kept.
 */
class Attempt implements Dispatcher.DispatchHandler, UpstreamBody {
  private controller: Dispatcher.DispatchController | undefined
  private sink: BodySink | undefined
  private kept: Array<Buffer> | undefined
  /** `done` was called (head or failure); the attempt's own callbacks after it are the body's. */
  private answered = false
  private ended = false
  private failed: Error | undefined
  private dropped = false
  private resumeQueued = false

  constructor(private readonly signal: AttemptSignal, private readonly done: (result: AttemptResult) => void) {
    if (signal.aborted) this.onAbort()
    else signal.addEventListener("abort", this.onAbort)
  }

  // the signal aborts before the head (timeout, client gone, shutdown): answer now, even while
  // the request still waits for a pooled connection, and abort it once it has one
  private readonly onAbort = () => {
    const error = this.aborted()
    this.controller?.abort(error)
    this.fail(error)
  }

  private aborted(): Error {
    return new Error(`aborted: ${String(this.signal.reason)}`)
  }

  private stopListening() {
    this.signal.removeEventListener("abort", this.onAbort)
  }

  /** Failed before any head: `done` hears it, once. */
  fail(error: Error) {
    if (this.answered) return
    this.answered = true
    this.stopListening()
    this.done({ failed: classify(error, this.signal) })
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    // no head comes before the connection: answered already means aborted while it waited
    if (this.answered) controller.abort(this.aborted())
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Dispatcher.ResponseData["headers"]): void {
    if (this.answered) return controller.abort(new Error("answered already"))
    this.answered = true
    this.done({ ok: { status: statusCode, headers, body: this } })
    if (this.sink === undefined && !this.dropped) controller.pause() // held: read no further until flow or discard
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.dropped) return
    if (this.sink === undefined) {
      ;(this.kept ??= []).push(chunk)
      controller.pause()
    } else if (!this.sink.data(chunk)) controller.pause()
  }

  onResponseEnd(): void {
    this.stopListening()
    this.ended = true
    if (!this.dropped) this.sink?.end()
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.stopListening()
    if (!this.answered) return this.fail(error)
    this.failed = error
    if (!this.dropped) this.sink?.error(error)
  }

  // undici's parsers must not be resumed from inside one of them (flow and discard are often
  // called from another request's callbacks): resume once the current callback has returned
  private readonly resumeNow = () => {
    this.resumeQueued = false
    this.controller?.resume()
  }

  resume(): void {
    if (this.resumeQueued) return
    this.resumeQueued = true
    queueMicrotask(this.resumeNow)
  }

  flow(sink: BodySink): void {
    this.sink = sink
    const kept = this.kept
    this.kept = undefined
    let more = true
    if (kept !== undefined) for (const chunk of kept) more = sink.data(chunk)
    if (this.failed !== undefined) return sink.error(this.failed)
    if (this.ended) return sink.end()
    if (more && this.controller?.paused === true) this.resume()
  }

  discard(): void {
    this.dropped = true
    this.kept = undefined
    if (this.controller?.paused === true) this.resume()
  }

  cancel(): void {
    this.dropped = true
    this.kept = undefined
    if (!this.ended && this.failed === undefined) this.controller?.abort(new Error("cancelled"))
  }
}

export const UpstreamLive = Layer.scoped(
  Upstream,
  Effect.gen(function* () {
    const { config } = yield* (yield* GatewayConfig).current
    // services.*.url needs a restart (SPEC §1): the pools are made once
    const pools = new Map<ServiceName, Pool>()
    for (const name of serviceNames) {
      const s = config.services[name]
      pools.set(name, new Pool(s.url, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        connect: { timeout: s.timeout }
      }))
    }
    yield* Effect.addFinalizer(() =>
      Effect.forEach([...pools.values()], (pool) => Effect.promise(() => pool.close()).pipe(Effect.timeout("2 seconds"), Effect.ignore), {
        concurrency: "unbounded",
        discard: true
      }).pipe(Effect.zipRight(Effect.forEach([...pools.values()], (pool) => Effect.promise(() => pool.destroy()), { discard: true })))
    )

    const send = (service: ServiceName, r: UpstreamRequest, done: (result: AttemptResult) => void): void => {
      const attempt = new Attempt(r.signal, done)
      try {
        pools.get(service)!.dispatch({
          method: r.method as "GET",
          path: r.path,
          headers: r.headers as Array<string>, // read, never written
          body: r.body ?? null,
          headersTimeout: r.timeoutMs,
          bodyTimeout: r.timeoutMs
        }, attempt)
      } catch (error) {
        attempt.fail(error as Error) // undici throws synchronously on arguments it refuses
      }
    }

    return Upstream.of({ send })
  })
)
