// SPEC §4 CORS: allowed origins echoed (never "*" with credentials), Vary: Origin,
// exposed gateway headers; preflights answered 204 for any path before everything else.
import type { IncomingHttpHeaders, ServerResponse } from "node:http"
import type { GatewayConfig } from "../domain/GatewayConfig.js"

export interface CorsPolicy {
  /** Adds the CORS headers of an actual (non-preflight) response. */
  readonly decorate: (headers: IncomingHttpHeaders, res: ServerResponse) => void
  /** True when the request is a preflight; it has then been answered. */
  readonly preflight: (method: string | undefined, headers: IncomingHttpHeaders, res: ServerResponse) => boolean
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

  const common = (origin: string, res: ServerResponse) => {
    res.setHeader("access-control-allow-origin", allowOrigin(origin))
    if (cors.allow_credentials) res.setHeader("access-control-allow-credentials", "true")
  }

  return {
    decorate: (headers, res) => {
      const origin = headers.origin
      if (origin === undefined) return
      res.appendHeader("vary", "Origin")
      if (!allowed(origin)) return
      common(origin, res)
      res.setHeader("access-control-expose-headers", exposed)
    },
    preflight: (method, headers, res) => {
      const origin = headers.origin
      if (method !== "OPTIONS" || origin === undefined || headers["access-control-request-method"] === undefined) return false
      res.appendHeader("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
      if (allowed(origin)) {
        common(origin, res)
        res.setHeader("access-control-allow-methods", methods)
        res.setHeader("access-control-allow-headers", allowHeaders)
        res.setHeader("access-control-max-age", maxAge)
      }
      res.writeHead(204)
      res.end()
      return true
    }
  }
}
