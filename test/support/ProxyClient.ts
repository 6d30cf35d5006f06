// Client side of the proxy suites: a fetch that reports a body cut mid-way instead of
// failing, byte-exact bodies, and Prometheus samples read from the gateway's /metrics.
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { request as httpRequest } from "node:http"
import { connect, type Socket } from "node:net"
import type { ErrorReplyLike } from "./HttpErrors.js"
import { parsePrometheus, samplesOf } from "./HttpPrometheus.js"
import { parseObject } from "./HttpClient.js"

export interface Outcome {
  /** Undefined when no response head arrived. */
  readonly status: number | undefined
  readonly headers: Headers
  /** The body as far as it arrived. */
  readonly body: Buffer
  readonly text: string
  readonly json: Record<string, unknown> | undefined
  /** Why the exchange failed: before the head (`fetch`) or while reading the body (`body`). */
  readonly failed: { readonly stage: "fetch" | "body"; readonly message: string } | undefined
  readonly elapsedMs: number
}

const describeError = (e: unknown): string => {
  const err = e as { message?: string; cause?: { code?: string; message?: string } }
  return [err.message, err.cause?.code, err.cause?.message].filter((s) => s !== undefined).join(": ")
}

/** One fetch, never failing: a refused, cut or reset exchange is reported in `failed`. */
export const exchange = (url: string, init: RequestInit = {}): Effect.Effect<Outcome> =>
  Effect.promise(async () => {
    const started = performance.now()
    let res: Response
    try {
      res = await fetch(url, { redirect: "manual", ...init })
    } catch (e) {
      return { status: undefined, headers: new Headers(), body: Buffer.alloc(0), text: "", json: undefined, failed: { stage: "fetch", message: describeError(e) }, elapsedMs: performance.now() - started }
    }
    const chunks: Array<Buffer> = []
    let failed: Outcome["failed"] = undefined
    try {
      if (res.body !== null) for await (const chunk of res.body) chunks.push(Buffer.from(chunk as Uint8Array))
    } catch (e) {
      failed = { stage: "body", message: describeError(e) }
    }
    const body = Buffer.concat(chunks)
    const text = body.toString("utf8")
    return { status: res.status, headers: res.headers, body, text, json: parseObject(text), failed, elapsedMs: performance.now() - started }
  })

export const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex")

/** Deterministic pseudo-random bytes (xorshift), so a corrupted byte anywhere shows in a hash. */
export const patternBytes = (size: number, seed = 0x9e3779b9): Buffer => {
  const out = Buffer.allocUnsafe(size)
  let x = seed >>> 0
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/** A ReadableStream sending `data` in `pieces` chunks: fetch sends it chunked (no Content-Length). */
export const chunkedStream = (data: Buffer, pieces: number): ReadableStream<Uint8Array> => {
  const size = Math.ceil(data.length / pieces)
  let at = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= data.length) return controller.close()
      controller.enqueue(new Uint8Array(data.subarray(at, at + size)))
      at += size
    }
  })
}

/** The sum of the samples of `name` whose labels include `labels`, from the gateway's /metrics. */
export const metricValue = (base: string, family: string, sample: string, labels: Readonly<Record<string, string>> = {}): Effect.Effect<number> =>
  Effect.promise(async () => {
    const text = await (await fetch(`${base}/metrics`)).text()
    return samplesOf(parsePrometheus(text).get(family), sample, labels).reduce((sum, s) => sum + s.value, 0)
  })

/** A unique `case` value, grouping one test's requests at the backend. */
let cases = 0
export const newCase = (label: string): string => `${label}-${++cases}-${Date.now().toString(36)}`

/** A raw connection that has sent `payload` and stays open until the test destroys it. */
export const rawOpen = (port: number, payload: string | Buffer): Effect.Effect<Socket> =>
  Effect.async<Socket>((resume) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(payload)
      resume(Effect.succeed(socket))
    })
    socket.on("error", () => {})
  })

/** An Outcome as assertErrorReply (HttpErrors.ts) reads it. */
export const errorReplyOf = (o: Outcome): ErrorReplyLike => ({ status: o.status, json: o.json, requestId: o.headers.get("x-request-id") })

/**
 * A request sent the way curl sends bodies over 1 KiB: `Expect: 100-continue`, the body
 * only after the interim 100 arrived. Bounded by `timeoutMs`.
 */
export const sendExpectingContinue = (
  port: number,
  options: { readonly method: string; readonly path: string; readonly headers: Record<string, string>; readonly body: Buffer },
  timeoutMs = 5_000
): Effect.Effect<{ readonly continued: boolean; readonly status: number | undefined; readonly text: string; readonly error: string | undefined }> =>
  Effect.async((resume) => {
    let continued = false
    const req = httpRequest({
      host: "127.0.0.1",
      port,
      method: options.method,
      path: options.path,
      headers: { ...options.headers, "content-length": String(options.body.length), expect: "100-continue" }
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resume(Effect.succeed({ continued, status: res.statusCode, text: Buffer.concat(chunks).toString("utf8"), error: undefined })))
      res.on("error", (e) => resume(Effect.succeed({ continued, status: res.statusCode, text: "", error: e.message })))
    })
    req.on("continue", () => {
      continued = true
      req.end(options.body)
    })
    req.on("error", (e) => resume(Effect.succeed({ continued, status: undefined, text: "", error: e.message })))
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    return Effect.sync(() => req.destroy())
  })
