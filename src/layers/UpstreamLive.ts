import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Dispatcher, Pool } from "undici"
import { type AttemptFailure, attemptFailure } from "../domain/Retry.js"
import { type ServiceName, serviceNames } from "../domain/ServiceName.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { type AttemptResult, type AttemptSignal, Upstream, type UpstreamRequest } from "../services/Upstream.js"

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
      const callback = (error: Error | null, res: Dispatcher.ResponseData | undefined) => {
        if (error !== null || res === undefined) done({ failed: classify(error, r.signal) })
        else done({ ok: { status: res.statusCode, headers: res.headers, body: res.body } })
      }
      try {
        pools.get(service)!.request({
          method: r.method as "GET",
          path: r.path,
          headers: r.headers,
          body: r.body ?? null,
          signal: r.signal as unknown as AbortSignal,
          headersTimeout: r.timeoutMs,
          bodyTimeout: r.timeoutMs
        }, callback)
      } catch (error) {
        done({ failed: classify(error, r.signal) }) // undici throws synchronously on arguments it refuses
      }
    }

    return Upstream.of({ send })
  })
)
