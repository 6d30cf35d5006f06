// SPEC §4 Proxying: which headers cross the gateway, in each direction.
import type { IncomingMessage } from "node:http"
import type { UpstreamResponse } from "../services/Upstream.js"

// RFC 9110 §7.6.1 hop-by-hop headers, plus what the gateway sets itself and the method
// overrides, which are stripped and never change the method (SPEC §4). Expect is answered
// by node:http itself (100 Continue) and undici refuses to send it.
const dropped = new Set([
  "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host", "expect",
  "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id", "x-gateway-version",
  "x-auth-user", "x-auth-role", "traceparent", "tracestate",
  "x-http-method-override", "x-http-method", "x-method-override"
])
const credentials = new Set(["authorization", "x-api-key"])

export interface ForwardedFields {
  readonly host: string
  readonly requestId: string
  readonly forwardedFor: string
  readonly proto: string
  readonly traceparent: string
  readonly tracestate: string | undefined
  readonly identity: { readonly user: string; readonly role: string } | undefined
  readonly hideCredentials: boolean
}

/** Headers a Connection header names (RFC 9110 §7.6.1); none for the common keep-alive/close. */
const connectionTokens = (value: string | undefined): Set<string> | undefined => {
  if (value === undefined) return undefined
  const lower = value.toLowerCase()
  if (lower === "keep-alive" || lower === "close") return undefined // both are dropped anyway
  return new Set(lower.split(",").map((t) => t.trim()))
}

/**
 * The request's fields as they go upstream: name, value, name, value… (undici takes the flat
 * list as it is). Read from node's `req.headers`: names lower-cased, a repeated field joined
 * (Cookie with "; "), and of a repeated singleton (Authorization, Content-Type, Host…) the
 * first only, the one the gateway itself judged.
 */
export const upstreamRequestHeaders = (req: IncomingMessage, f: ForwardedFields): Array<string> => {
  const out: Array<string> = []
  const headers = req.headers
  const named = connectionTokens(headers.connection)
  for (const name in headers) {
    if (dropped.has(name) || named?.has(name) || (f.hideCredentials && credentials.has(name))) continue
    const value = headers[name]
    if (value !== undefined) out.push(name, typeof value === "string" ? value : value.join(", ")) // set-cookie, the one array
  }
  out.push("x-forwarded-for", f.forwardedFor, "x-forwarded-proto", f.proto)
  if (f.host !== "") out.push("x-forwarded-host", f.host)
  out.push("x-request-id", f.requestId, "x-gateway-version", "1.0.0", "traceparent", f.traceparent)
  if (f.tracestate !== undefined) out.push("tracestate", f.tracestate)
  if (f.identity !== undefined) out.push("x-auth-user", f.identity.user, "x-auth-role", f.identity.role)
  return out
}

const droppedResponse = new Set([
  "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "server", "x-powered-by"
])

export const clientResponseHeaders = (headers: UpstreamResponse["headers"]): Record<string, string | Array<string>> => {
  const out: Record<string, string | Array<string>> = {}
  const connection = headers["connection"]
  const named = connectionTokens(Array.isArray(connection) ? connection.join(",") : connection)
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || droppedResponse.has(name) || named?.has(name)) continue
    out[name] = value
  }
  return out
}
