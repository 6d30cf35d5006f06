import type { IncomingMessage, ServerResponse } from "node:http"
import type { Duplex } from "node:stream"
import type { RequestPath } from "../domain/RequestPath.js"
import type { Identity } from "../services/Auth.js"
import type { RequestTrace } from "../services/Tracing.js"
import type { AttemptSignal } from "../services/Upstream.js"
import type { CacheTicket } from "./CacheStage.js"
import type { Endpoint, Plan } from "./Plan.js"
import type { ResponseHeaders } from "./ResponseHeaders.js"

/** What one request carries through the pipeline; plain data, passed as an argument. */
export interface RequestContext {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** The gateway's own response fields, written with the status (ResponseHeaders.ts); never res.setHeader. */
  readonly responseHeaders: ResponseHeaders
  readonly requestId: string
  /** performance.now() at arrival, for durations. */
  readonly startedAt: number
  /** Date.now() at arrival: the request deadline counts from it (server.write_timeout). */
  readonly arrivedAt: number
  readonly plan: Plan
  readonly clientIp: string
  /** X-Forwarded-For as it goes upstream (SPEC §4 Client IP). */
  readonly forwardedFor: string
  readonly proto: "http" | "https"
  target: RequestPath | undefined
  endpoint: Endpoint | undefined
  /** Who called, for logs (user id or key name), once authenticated. */
  caller: string | undefined
  /** The identity sent upstream as X-Auth-User / X-Auth-Role. */
  identity: Identity | undefined
  /** Set on GETs under a cache rule. */
  cache: CacheTicket | undefined
  /** Aborted when the client goes away before its response is complete. */
  clientGone: AttemptSignal | undefined
  bodyTooLarge: boolean
  /** Set for node's 'upgrade' requests: the raw socket and the bytes read past the head. */
  readonly upgrade: { readonly socket: Duplex; readonly head: Buffer } | undefined
  traceId: string | undefined
  /** Present only for sampled requests (SPEC §5 traces). */
  trace: RequestTrace | undefined
  requestBytes: number
  responseBytes: number
}

const validRequestId = /^[A-Za-z0-9._-]{1,128}$/

/** SPEC §4: a client's X-Request-ID is kept when it is 1–128 chars of [A-Za-z0-9._-]. */
export const pickRequestId = (given: string | Array<string> | undefined, fresh: () => string): string =>
  typeof given === "string" && validRequestId.test(given) ? given : fresh()

export const socketAddress = (req: IncomingMessage): string => {
  const address = req.socket.remoteAddress ?? ""
  return address.startsWith("::ffff:") ? address.slice(7) : address
}
