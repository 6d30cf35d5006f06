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
  removeEventListener(_type: "abort", listener: () => void): void {
    this.listeners = this.listeners.filter((l) => l !== listener)
  }
  abort(reason: "timeout" | "client" | "shutdown" | "body-too-large"): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    for (const l of this.listeners) l()
  }
}

export interface UpstreamRequest {
  readonly method: string
  /** The client's path and query, unchanged (SPEC §3). */
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: Buffer | Readable | undefined
  readonly signal: AttemptSignal
  readonly timeoutMs: number
}

export interface UpstreamResponse {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: Readable & { dump?: () => Promise<void> }
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
