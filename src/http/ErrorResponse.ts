// The one mapping from a failure to an HTTP response (SPEC §4 table). Match.valueTags is
// exhaustive: an error added to GatewayError without a case here does not compile.
import * as Match from "effect/Match"
import type { GatewayError } from "../domain/Errors.js"
import { ceilSeconds } from "../domain/TokenBucket.js"

export interface ErrorReply {
  readonly status: number
  readonly error: string
  readonly headers?: Readonly<Record<string, string>>
  readonly details?: string
}

const retryAfter = (ms: number): Record<string, string> => ({ "retry-after": String(Math.max(1, ceilSeconds(ms))) })

const rateLimitMessage = {
  global: "Global rate limit exceeded",
  endpoint: "Endpoint rate limit exceeded",
  ip: "IP rate limit exceeded"
} as const

export const toErrorReply = (error: GatewayError): ErrorReply =>
  Match.valueTags(error, {
    BadRequest: (e) => ({ status: 400, error: "Bad request", details: e.reason }),
    MissingCredentials: () => ({ status: 401, error: "Authentication required", headers: { "www-authenticate": "Bearer" } }),
    InvalidToken: (e) => ({ status: 401, error: "Invalid or expired token", details: e.detail }),
    InvalidApiKey: () => ({ status: 401, error: "Invalid API key" }),
    Forbidden: (e) => ({ status: 403, error: "Insufficient permissions", details: `requires role ${e.needed}` }),
    NotFound: () => ({ status: 404, error: "Not found" }),
    MethodNotAllowed: (e) => ({ status: 405, error: "Method not allowed", headers: { allow: e.allow } }),
    RequestTimeout: () => ({ status: 408, error: "Request timeout", headers: { connection: "close" } }),
    BodyTooLarge: (e) => ({ status: 413, error: "Request body too large", details: `limit is ${e.limit} bytes`, headers: { connection: "close" } }),
    UnsupportedMediaType: (e) => ({ status: 415, error: "Unsupported content type", details: `got ${e.contentType || "none"}` }),
    UpgradeRequired: () => ({ status: 426, error: "Upgrade required", headers: { upgrade: "websocket", connection: "Upgrade" } }),
    RateLimited: (e) => ({ status: 429, error: rateLimitMessage[e.scope], headers: retryAfter(e.retryAfterMs) }),
    HeadersTooLarge: () => ({ status: 431, error: "Request header fields too large", headers: { connection: "close" } }),
    BadGateway: (e) => ({ status: 502, error: "Bad gateway", details: `${e.service}: ${e.kind}: ${e.detail}` }),
    CircuitOpen: (e) => ({ status: 503, error: "Service temporarily unavailable", details: `circuit breaker open for ${e.service}`, headers: retryAfter(e.retryAfterMs) }),
    Overloaded: (e) => ({ status: 503, error: "Service temporarily unavailable", details: e.what, headers: retryAfter(e.retryAfterMs) }),
    GatewayTimeout: (e) => ({ status: 504, error: "Gateway timeout", details: `${e.service}: ${e.detail}` })
  })

export const internalErrorReply: ErrorReply = { status: 500, error: "Internal server error" }

/** The JSON body every error carries (SPEC §4): `error`, `request_id`, `details` when enabled. */
export const errorBody = (reply: ErrorReply, requestId: string, withDetails: boolean): string =>
  JSON.stringify(
    withDetails && reply.details !== undefined
      ? { error: reply.error, request_id: requestId, details: reply.details }
      : { error: reply.error, request_id: requestId }
  )
