// What a config snapshot compiles to, once (Caddy's Compile, Lura's newStack): the
// router with the API routes and the public endpoints, CORS and the limits per request.
// Requests only run it; SIGHUP builds a new one.
import { type CacheRules, compileCacheRules } from "../domain/CacheRules.js"
import { makeTrustedProxies, type TrustedProxies } from "../domain/ClientIp.js"
import type { GatewayConfig } from "../domain/GatewayConfig.js"
import { compileRateLimits, type RateLimits } from "../domain/RateLimits.js"
import { type ApiRoute, apiRoutes } from "../domain/RouteTable.js"
import { makeRouter, type Router } from "../domain/Router.js"
import { type CorsPolicy, makeCorsPolicy } from "./Cors.js"
import { makeResolver, type Resolver } from "./Resolve.js"

export type PublicName = "health" | "liveness" | "readiness" | "version" | "metrics" | "openapi"

export interface ApiEndpoint extends ApiRoute {
  readonly kind: "api"
}
export interface PublicEndpoint {
  readonly kind: "public"
  readonly method: "GET"
  readonly template: string
  readonly name: PublicName
}
export interface WebSocketEndpoint {
  readonly kind: "websocket"
  readonly method: "GET"
  readonly template: string
}
export type Endpoint = ApiEndpoint | PublicEndpoint | WebSocketEndpoint

export interface Plan {
  readonly config: GatewayConfig
  readonly router: Router<Endpoint>
  readonly cors: CorsPolicy | undefined
  readonly trustedProxies: TrustedProxies
  readonly limits: RateLimits
  readonly cacheRules: CacheRules
  /** What each target means under this snapshot, remembered (Resolve.ts). */
  readonly resolver: Resolver<Endpoint>
  readonly errorDetails: boolean
  readonly accessLog: boolean
}

export const publicEndpoints = (config: GatewayConfig): Array<PublicEndpoint> => {
  const at = (template: string, name: PublicName): PublicEndpoint => ({ kind: "public", method: "GET", template, name })
  const health = config.health.path === "/" ? "" : config.health.path
  const list = [
    at(`${health}/liveness`, "liveness"),
    at(`${health}/readiness`, "readiness"),
    at("/version", "version"),
    at("/openapi.json", "openapi")
  ]
  if (config.health.enabled) list.push(at(config.health.path, "health"))
  if (config.metrics.enabled) list.push(at(config.metrics.path, "metrics"))
  return list
}

/** Distinct GET targets whose resolution a plan keeps: ~1.4 KB each at most (256-character targets under a shared cache rule), ~6 MB in all. */
export const rememberedTargets = 4096

export const compilePlan = (config: GatewayConfig): Plan => {
  const endpoints: Array<Endpoint> = [
    ...apiRoutes.map((r): ApiEndpoint => ({ ...r, kind: "api" })),
    ...publicEndpoints(config)
  ]
  if (config.websocket.enabled) endpoints.push({ kind: "websocket", method: "GET", template: config.websocket.path })
  const router = makeRouter(endpoints)
  const limits = compileRateLimits(config)
  const cacheRules = compileCacheRules(config)
  return {
    config,
    router,
    cors: config.cors.enabled ? makeCorsPolicy(config.cors) : undefined,
    trustedProxies: makeTrustedProxies(config.server.trusted_proxies),
    limits,
    cacheRules,
    resolver: makeResolver({ router, limits, cacheRules, capacity: rememberedTargets }),
    errorDetails: config.features.enable_error_details,
    accessLog: config.features.enable_access_log
  }
}
