// The SPEC §4 checks, in order, as one typed Effect. When the stores answer at once (memory
// buckets, breaker state, a remembered key or token) every step is an Exit and `eager` settles
// the checks without a fiber; after a Redis round trip (a callback step) they go on in its
// reply's callback, still without one; a JWT to verify continues them on a fiber. The
// upstream call happens after them, outside any fiber.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { baseKey } from "../domain/CacheRules.js"
import { BadRequest, Forbidden, type GatewayError, MethodNotAllowed, NotFound, UpgradeRequired } from "../domain/Errors.js"
import { withClient } from "../domain/RateLimits.js"
import { satisfies } from "../domain/Role.js"
import type { Auth, Credentials } from "../services/Auth.js"
import type { Breaker, Ticket } from "../services/Breaker.js"
import { type BoundCounter, bindCounter } from "../services/BoundMetrics.js"
import type { Cache, CachedResponse } from "../services/Cache.js"
import type { GatewayMetrics } from "../services/Metrics.js"
import type { RateLimiter } from "../services/RateLimiter.js"
import type { ApiEndpoint, PublicEndpoint } from "./Plan.js"
import { identityFor, type makeCacheKeys } from "./CacheStage.js"
import { eager, exitOf, onSettled, tapFailure } from "./Eager.js"
import { setRateLimitHeaders } from "./RateLimitHeaders.js"
import type { RequestContext } from "./RequestContext.js"
import { validate } from "./Validate.js"

export type Decision =
  | { readonly _tag: "Public"; readonly endpoint: PublicEndpoint }
  | { readonly _tag: "CacheHit"; readonly entry: CachedResponse }
  | { readonly _tag: "Upgrade" }
  | { readonly _tag: "Forward"; readonly endpoint: ApiEndpoint; readonly ticket: Ticket }

export interface ChecksDeps {
  readonly breaker: Breaker["Type"]
  readonly auth: Auth["Type"]
  readonly metrics: GatewayMetrics
  readonly limiter: RateLimiter["Type"]
  readonly cache: Cache["Type"]
  readonly cacheKeys: ReturnType<typeof makeCacheKeys>
}

/** A child span around a step, for sampled requests only; a settled step's span ends at once. */
const traced = <A, E extends { readonly _tag: string }>(ctx: RequestContext, name: string, step: () => Effect.Effect<A, E>): Effect.Effect<A, E> => {
  const t = ctx.trace
  if (t === undefined) return step()
  const span = t.child(name)
  return onSettled(step(), (exit) => span.end(Exit.isSuccess(exit) ? undefined : (Option.getOrUndefined(Cause.failureOption(exit.cause))?._tag ?? "defect")))
}

export const makeChecks = (deps: ChecksDeps): (ctx: RequestContext, credentials: Credentials | undefined) => Effect.Effect<Decision, GatewayError> => {
  // cache hit and miss series bound once per rule prefix (a handful, from the config)
  const counters = new Map<string, { readonly hits: BoundCounter; readonly misses: BoundCounter }>()
  const countersOf = (prefix: string) => {
    let c = counters.get(prefix)
    if (c === undefined) {
      c = { hits: bindCounter(deps.metrics.cacheHits, { endpoint: prefix }), misses: bindCounter(deps.metrics.cacheMisses, { endpoint: prefix }) }
      counters.set(prefix, c)
    }
    return c
  }
  return eager(function* (ctx: RequestContext, credentials: Credentials | undefined) {
    const method = ctx.req.method ?? ""
    const resolved = ctx.plan.resolver.resolve(method, ctx.req.url ?? "")
    const target = yield* validate(ctx.req, ctx.plan.config.server.max_body_bytes, resolved.target)
    ctx.target = target
    const match = resolved.match! // defined: validate refused the targets the resolver found refused
    if (match._tag === "Found") ctx.endpoint = match.route
    // every request passes the limits, unmatched paths and public endpoints included
    const buckets = withClient(ctx.plan.limits, resolved.buckets, ctx.clientIp)
    if (buckets.length > 0) {
      const quota = yield* tapFailure(traced(ctx, "rate limit", () => deps.limiter.check(buckets)), (e) =>
        deps.metrics.rateLimitExceeded.inc({ endpoint: ctx.endpoint?.template ?? "unmatched", limiter_type: e.scope }))
      setRateLimitHeaders(ctx.responseHeaders, quota)
    }
    if (match._tag === "NotFound") return yield* Exit.fail(new NotFound())
    if (match._tag === "MethodNotAllowed") return yield* Exit.fail(new MethodNotAllowed({ allow: match.allow }))
    const endpoint = match.route
    if (endpoint.kind === "public") return { _tag: "Public", endpoint } as const
    if (endpoint.kind === "websocket" && ctx.upgrade === undefined) return yield* Exit.fail(new UpgradeRequired())
    if (credentials !== undefined) {
      const identity = yield* traced(ctx, "authenticate", () => deps.auth.authenticate(credentials))
      ctx.identity = identity
      ctx.caller = identity.caller
      const needed = endpoint.kind === "websocket" ? "viewer" : endpoint.role
      if (!satisfies(identity.role, needed)) {
        deps.metrics.authFailures.inc({ type: identity.type, reason: "forbidden" })
        return yield* Exit.fail(new Forbidden({ needed }))
      }
    }
    if (endpoint.kind === "websocket") return { _tag: "Upgrade" } as const
    if (ctx.upgrade !== undefined) return yield* Exit.fail(new BadRequest({ reason: "an upgrade is only accepted on websocket.path" }))
    const rule = resolved.rule
    if (rule !== undefined) {
      const base = resolved.sharedBase ?? baseKey({ rule, path: target.normalized, query: target.query, identity: identityFor(ctx.identity, ctx.req.headers) })
      const cache = (ctx.cache = deps.cacheKeys.ticket(rule, base, ctx.req.headers))
      const found = yield* exitOf(traced(ctx, "cache lookup", () => deps.cache.lookup(cache.key)))
      if (Exit.isFailure(found)) {
        if (!Cause.isFailure(found.cause)) return yield* Exit.die(Cause.squash(found.cause)) // a defect, not a store failure
        cache.status = "BYPASS" // the store counted and logged its trouble
      }
      const entry = Exit.isSuccess(found) ? found.value : undefined
      // hits pass auth and rate limits, not the breaker or the backend (SPEC §4)
      if (entry !== undefined) {
        cache.status = "HIT"
        countersOf(rule.prefix).hits.inc()
        return { _tag: "CacheHit", entry } as const
      }
      if (cache.status === "MISS") countersOf(rule.prefix).misses.inc()
    }
    const ticket = yield* deps.breaker.admit(endpoint.service) // 503 without touching the backend
    return { _tag: "Forward", endpoint, ticket } as const
  })
}
