// SPEC §4 WebSocket: what the client's upgrade must carry, and what of it reaches the
// backend. Checked before the backend is dialled, so a malformed upgrade costs it nothing.
import type { IncomingMessage } from "node:http"
import { BadRequest, type GatewayError, UpgradeRequired } from "../domain/Errors.js"
import { formatTraceParent, newSpanId, newTraceId, parseTraceParent } from "../domain/TraceParent.js"
import { upstreamRequestHeaders } from "./ProxyHeaders.js"
import type { RequestContext } from "./RequestContext.js"

const key = /^[+/0-9A-Za-z]{22}==$/
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** RFC 6455 §4.2.1, as ws's handleUpgrade checks it (the route already ensured GET). */
export const handshakeProblem = (req: IncomingMessage): GatewayError | undefined => {
  if (req.headers.upgrade?.toLowerCase() !== "websocket") return new UpgradeRequired()
  const k = req.headers["sec-websocket-key"]
  if (k === undefined || !key.test(k)) return new BadRequest({ reason: "missing or invalid Sec-WebSocket-Key" })
  const version = req.headers["sec-websocket-version"]
  if (version !== "13" && version !== "8") return new BadRequest({ reason: "missing or invalid Sec-WebSocket-Version" })
  if (offeredProtocols(req) === undefined) return new BadRequest({ reason: "invalid Sec-WebSocket-Protocol" })
  return undefined
}

/** The client's subprotocols in its order; undefined when the header is malformed. */
export const offeredProtocols = (req: IncomingMessage): ReadonlyArray<string> | undefined => {
  const header = req.headers["sec-websocket-protocol"]
  if (header === undefined) return []
  const list = header.split(",").map((p) => p.trim())
  return list.every((p) => token.test(p)) && new Set(list).size === list.length ? list : undefined
}

const isToken = (pair: string): boolean => {
  const eq = pair.indexOf("=")
  const name = eq < 0 ? pair : pair.slice(0, eq)
  try {
    return decodeURIComponent(name.replace(/\+/g, " ")) === "token"
  } catch {
    return false
  }
}

/** The query as the client wrote it, minus every `token` parameter (SPEC §4: never forwarded). */
export const queryWithoutToken = (query: string): string =>
  query === "" ? "" : query.split("&").filter((pair) => !isToken(pair)).join("&")

export const backendUrl = (serviceUrl: string, backendPath: string, query: string): string => {
  const origin = serviceUrl.replace(/^http/i, "ws").replace(/\/+$/, "")
  const q = queryWithoutToken(query)
  return `${origin}${backendPath}${q === "" ? "" : `?${q}`}`
}

// The handshake headers are ws's own; the client's protocols go in by hand (see WebSocketBackend).
const handshakeHeaders = ["sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol", "sec-websocket-accept"]

/** SPEC §4 Proxying's request headers, for the backend's upgrade; sets ctx.traceId. */
export const backendHeaders = (ctx: RequestContext, protocols: ReadonlyArray<string>): Record<string, string> => {
  const { req } = ctx
  const incoming = parseTraceParent(req.headers.traceparent)
  ctx.traceId = incoming?.traceId ?? newTraceId()
  const fields = upstreamRequestHeaders(req, {
    host: req.headers.host ?? "",
    requestId: ctx.requestId,
    forwardedFor: ctx.forwardedFor,
    proto: ctx.proto,
    traceparent: formatTraceParent(ctx.traceId, newSpanId(), incoming?.sampled ?? false),
    tracestate: incoming === undefined ? undefined : (req.headers.tracestate as string | undefined),
    identity: ctx.identity,
    hideCredentials: ctx.plan.config.auth.hide_credentials
  })
  // ws spreads its own fields into these: an object, without a prototype (the names are the client's)
  const headers: Record<string, string> = Object.create(null) as Record<string, string>
  for (let i = 0; i < fields.length; i += 2) headers[fields[i]!] = fields[i + 1]!
  for (const name of handshakeHeaders) delete headers[name]
  delete headers["content-length"]
  if (protocols.length > 0) headers["sec-websocket-protocol"] = protocols.join(", ")
  return headers
}
