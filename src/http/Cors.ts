// SPEC §4 CORS: allowed origins echoed (never "*" with credentials), Vary: Origin,
// exposed gateway headers; preflights answered 204 for any path before everything else.
import type { IncomingHttpHeaders } from "node:http"
import type { GatewayConfig } from "../domain/GatewayConfig.js"
import type { RequestContext } from "./RequestContext.js"
import { type ResponseHeaders, writeHead } from "./ResponseHeaders.js"

export interface CorsPolicy {
  /** Adds the CORS headers of an actual (non-preflight) response. */
  readonly decorate: (headers: IncomingHttpHeaders, out: ResponseHeaders) => void
  /** True when the request is a preflight; it has then been answered. */
  readonly preflight: (ctx: RequestContext) => boolean
}

const exposed = [
  "X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Burst",
  "RateLimit", "RateLimit-Policy", "X-Cache", "Retry-After"
].join(", ")

export const makeCorsPolicy = (cors: GatewayConfig["cors"]): CorsPolicy => {
  const any = cors.allowed_origins.includes("*")
  const origins = new Set(cors.allowed_origins)
  const methods = cors.allowed_methods.join(", ")
  const allowHeaders = cors.allowed_headers.join(", ")
  const maxAge = String(cors.max_age) // the seed wrote string(rune(n)); SPEC §4 wants the decimal number
  const allowed = (origin: string) => any || origins.has(origin)
  const allowOrigin = (origin: string) => (any && !cors.allow_credentials ? "*" : origin)

  const common = (origin: string, out: ResponseHeaders) => {
    out.set("access-control-allow-origin", allowOrigin(origin))
    if (cors.allow_credentials) out.set("access-control-allow-credentials", "true")
  }

  return {
    decorate: (headers, out) => {
      const origin = headers.origin
      if (origin === undefined) return
      out.append("vary", "Origin")
      if (!allowed(origin)) return
      common(origin, out)
      out.set("access-control-expose-headers", exposed)
    },
    preflight: (ctx) => {
      const headers = ctx.req.headers
      const origin = headers.origin
      if (ctx.req.method !== "OPTIONS" || origin === undefined || headers["access-control-request-method"] === undefined) return false
      const out = ctx.responseHeaders
      out.append("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
      if (allowed(origin)) {
        common(origin, out)
        out.set("access-control-allow-methods", methods)
        out.set("access-control-allow-headers", allowHeaders)
        out.set("access-control-max-age", maxAge)
      }
      writeHead(ctx, 204)
      ctx.res.end()
      return true
    }
  }
}
