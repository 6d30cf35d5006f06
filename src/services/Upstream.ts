import * as Context from "effect/Context"
import type { Readable } from "node:stream"
import type { AttemptFailure } from "../domain/Retry.js"
import type { ServiceName } from "../domain/ServiceName.js"

/** What undici accepts as `signal`: far cheaper than an AbortController per request. */
export class AttemptSignal {
  aborted = false
  reason: unknown = undefined
  private listeners: Array<() => void> = []
  addEventListener(_type: "abort", listener: () => void): void {
    this.listeners.push(listener)
  }
  /** In place (no new list a request); `abort` runs the listeners from a list of its own. */
  removeEventListener(_type: "abort", listener: () => void): void {
    const listeners = this.listeners
    const i = listeners.indexOf(listener)
    if (i === -1) return
    for (let j = i; j < listeners.length - 1; j++) listeners[j] = listeners[j + 1]!
    listeners.pop()
  }
  abort(reason: "timeout" | "client" | "shutdown" | "body-too-large"): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const listeners = this.listeners
    this.listeners = [] // a listener that removes itself or another leaves this loop's list alone
    for (const l of listeners) l()
  }
}

export interface UpstreamRequest {
  readonly method: string
  /** The client's path and query, unchanged (SPEC §3). */
  readonly path: string
  /** name, value, name, value… (ProxyHeaders.upstreamRequestHeaders) */
  readonly headers: ReadonlyArray<string>
  readonly body: Buffer | Readable | undefined
  readonly signal: AttemptSignal
  readonly timeoutMs: number
}

/** Where a response body goes, chunk by chunk. */
export interface BodySink {
  /** One chunk; false asks for no more until the body's `resume`. */
  readonly data: (chunk: Buffer) => boolean
  /** The body is complete. */
  readonly end: () => void
  /** The backend failed mid-body (reset, body timeout, bad framing). */
  readonly error: (error: Error) => void
}

/**
 * A response body straight from undici's dispatcher, with no Readable stream in between
 * (the proxied GET: 379k instructions a request against 410k with `request` + `pipe`,
 * callgrind). Until `flow` or `discard` is called the backend is not read past its first chunk.
 */
export interface UpstreamBody {
  /** Delivers the body to `sink` (call once): the chunks in order, then `end` or `error`. */
  readonly flow: (sink: BodySink) => void
  /** Goes on after the sink's `data` returned false. */
  readonly resume: () => void
  /** Reads the rest and drops it, so the connection can be reused (a held response superseded). */
  readonly discard: () => void
  /** Stops reading: the backend connection is closed (the client left mid-body). */
  readonly cancel: () => void
}

export interface UpstreamResponse {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: UpstreamBody
}

/** How one attempt ended: a response to pass on, or why there is none. */
export type AttemptResult = { readonly ok: UpstreamResponse } | { readonly failed: AttemptFailure }

export class Upstream extends Context.Tag("gateway/Upstream")<
  Upstream,
  {
    /**
     * One attempt over the service's keep-alive pool, told to `done` exactly once. A plain
     * callback on purpose: the first attempt runs outside any fiber and allocates no promise
     * (PERFORMANCE.md); the retry fiber wraps it in Effect.async.
     */
    readonly send: (service: ServiceName, request: UpstreamRequest, done: (result: AttemptResult) => void) => void
  }
>() {}
