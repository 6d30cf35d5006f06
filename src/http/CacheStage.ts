// SPEC §4 Cache on the request path: the key (with the identity unless the rule is shared,
// and the request's values of the headers the response varies on), serving hits, storing
// fresh 200s, and coalescing concurrent misses into one upstream request.
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { IncomingHttpHeaders, ServerResponse } from "node:http"
import { anonymousIdentity, cacheableResponse, cacheKey, type CacheRule, varyNames } from "../domain/CacheRules.js"
import type { GatewayError } from "../domain/Errors.js"
import { LruMap } from "../domain/LruMap.js"
import type { Identity } from "../services/Auth.js"
import type { Breaker, Ticket } from "../services/Breaker.js"
import type { Cache, CachedResponse } from "../services/Cache.js"
import type { ApiEndpoint } from "./Plan.js"
import { encodeFor } from "./Encode.js"
import type { ForwardObserver } from "./Proxy.js"
import type { RequestContext } from "./RequestContext.js"
import { writeHead } from "./ResponseHeaders.js"

export interface CacheTicket {
  readonly rule: CacheRule
  readonly base: string
  readonly key: string
  status: "HIT" | "MISS" | "BYPASS"
}

export type Outcome =
  | { readonly _tag: "Response"; readonly entry: CachedResponse; readonly stored: boolean; readonly leader: IncomingHttpHeaders }
  | { readonly _tag: "Error"; readonly error: GatewayError }
  | { readonly _tag: "Unshared" }
  /** The leader's client left: this follower goes upstream for the rest. */
  | { readonly _tag: "Lead" }

/** What the cache keeps of a response: not the per-hop or per-response headers. */
const unstored = new Set(["date", "age", "content-length", "x-request-id", "x-cache", "set-cookie", "connection", "transfer-encoding", "keep-alive"])

export const storedHeaders = (headers: Readonly<Record<string, string | ReadonlyArray<string>>>) => {
  const out: Record<string, string | ReadonlyArray<string>> = {}
  for (const name in headers) if (!unstored.has(name)) out[name] = headers[name]!
  return out
}

export const identityFor = (identity: Identity | undefined, headers: IncomingHttpHeaders): string =>
  identity === undefined
    ? anonymousIdentity(headers.authorization, typeof headers["x-api-key"] === "string" ? headers["x-api-key"] : undefined)
    : identity.type === "jwt" ? `u:${identity.caller}` : `k:${identity.caller}`

export const makeCacheKeys = (capacity: number) => {
  // the Vary names each base key's responses carried, learned when they were stored
  const vary = new LruMap<string, ReadonlyArray<string>>(capacity)
  // the SHA-256 key of a base key without Vary values, per rule (a reload compiles new rules, so
  // new maps): a hit's key repeats by definition, and hashing was ~3 % of a hit's CPU
  const hashed = new WeakMap<CacheRule, LruMap<string, string>>()
  const keyOf = (rule: CacheRule, base: string, values: ReadonlyArray<readonly [string, string]>): string => {
    if (values.length > 0) return cacheKey(rule, base, values)
    let memo = hashed.get(rule)
    if (memo === undefined) hashed.set(rule, (memo = new LruMap(Math.min(capacity, 10_000))))
    let key = memo.get(base)
    if (key === undefined) memo.set(base, (key = cacheKey(rule, base, values)))
    return key
  }
  return {
    /** `base`: the request's baseKey (the resolver keeps a shared rule's). */
    ticket: (rule: CacheRule, base: string, headers: IncomingHttpHeaders): CacheTicket => {
      const names = vary.get(base) ?? []
      const values = names.map((n) => [n, String(headers[n] ?? "")] as const)
      return { rule, base, key: keyOf(rule, base, values), status: "MISS" }
    },
    /** The key a response will be stored under, now that its Vary is known; undefined if not storable. */
    storeKey: (t: CacheTicket, ctx: RequestContext, entry: CachedResponse, sent: Readonly<Record<string, string | ReadonlyArray<string>>>): string | undefined => {
      // judged on the headers the backend sent: the stored copy has Set-Cookie removed
      if (t.status === "BYPASS" || !cacheableResponse(entry.status, sent)) return undefined
      const names = varyNames(entry.headers["vary"])
      vary.set(t.base, names)
      return keyOf(t.rule, t.base, names.map((n) => [n, String(ctx.req.headers[n] ?? "")] as const))
    }
  }
}

export const serveEntry = (ctx: RequestContext, entry: CachedResponse, now: number, label: "HIT" | "MISS" = "HIT"): void => {
  const res: ServerResponse = ctx.res
  if (res.headersSent || res.destroyed) return
  const own = ctx.responseHeaders
  own.set("x-cache", label)
  own.set("age", String(Math.max(0, Math.floor((now - entry.storedAt) / 1000))))
  own.set("content-length", entry.body.length)
  ctx.responseBytes = entry.body.length
  const encoder = encodeFor(ctx, entry.status, entry.headers) // entries are stored uncompressed
  writeHead(ctx, entry.status, entry.headers)
  if (encoder === undefined) res.end(entry.body)
  else {
    encoder.pipe(res)
    encoder.end(entry.body)
  }
}

/** Concurrent misses for one key wait for the first one's upstream request (SPEC §4). */
export class Coalescer {
  private readonly waiting = new Map<string, Array<(o: Outcome) => void>>()

  /** True when the caller leads (goes upstream); false when it was queued behind a leader. */
  lead(key: string, follower: (o: Outcome) => void): boolean {
    const queue = this.waiting.get(key)
    if (queue === undefined) {
      this.waiting.set(key, [])
      return true
    }
    queue.push(follower)
    return false
  }

  settle(key: string, outcome: Outcome): void {
    const queue = this.waiting.get(key)
    this.waiting.delete(key)
    if (queue === undefined) return
    const [next, ...rest] = queue
    if (outcome._tag === "Unshared" && next !== undefined) {
      this.waiting.set(key, rest) // still one upstream request for the followers
      return next({ _tag: "Lead" })
    }
    for (const f of queue) f(outcome)
  }
}

export interface CachedForwardDeps {
  readonly forward: (ctx: RequestContext, endpoint: ApiEndpoint, ticket: Ticket, observer?: ForwardObserver) => void
  readonly cache: Cache["Type"]
  readonly cacheKeys: ReturnType<typeof makeCacheKeys>
  readonly breaker: Breaker["Type"]
  readonly now: () => number
  readonly runSync: <A>(effect: Effect.Effect<A>) => A
  readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => unknown
  readonly fail: (ctx: RequestContext, error: GatewayError) => void
}

/** The proxy step for GETs under a cache rule: coalesce, forward, store. */
export const makeCachedForward = (deps: CachedForwardDeps) => {
  const coalescer = new Coalescer()

  const forwardAlone = (ctx: RequestContext, endpoint: ApiEndpoint) => {
    const admitted = deps.runSync(Effect.either(deps.breaker.admit(endpoint.service)))
    return Either.isLeft(admitted) ? deps.fail(ctx, admitted.left) : deps.forward(ctx, endpoint, admitted.right)
  }

  const lead = (ctx: RequestContext, endpoint: ApiEndpoint, t: CacheTicket, ticket: Ticket) =>
    deps.forward(ctx, endpoint, ticket, (outcome) => {
      if (outcome._tag !== "Response") return coalescer.settle(t.key, outcome)
      const entry: CachedResponse = { status: outcome.status, headers: storedHeaders(outcome.headers), body: outcome.body, storedAt: deps.now() }
      const key = deps.cacheKeys.storeKey(t, ctx, entry, outcome.headers)
      if (key !== undefined) deps.runFork(deps.cache.store(key, entry, t.rule.ttlMs)) // a failed store is counted and logged by the store
      coalescer.settle(t.key, { _tag: "Response", entry, stored: key !== undefined, leader: ctx.req.headers })
    })

  const follow = (ctx: RequestContext, endpoint: ApiEndpoint) => (o: Outcome) => {
    if (o._tag === "Error") return deps.fail(ctx, o.error)
    if (o._tag === "Lead") {
      const admitted = deps.runSync(Effect.either(deps.breaker.admit(endpoint.service)))
      if (Either.isLeft(admitted)) {
        coalescer.settle(ctx.cache!.key, { _tag: "Error", error: admitted.left })
        return deps.fail(ctx, admitted.left)
      }
      return lead(ctx, endpoint, ctx.cache!, admitted.right)
    }
    // a response that varies on headers this caller sent differently is not its to share
    const differs = o._tag === "Response" && varyNames(o.entry.headers["vary"]).some((n) => ctx.req.headers[n] !== o.leader[n])
    if (o._tag === "Unshared" || differs) return forwardAlone(ctx, endpoint)
    serveEntry(ctx, o.entry, deps.now(), o.stored ? "HIT" : "MISS")
  }

  return (ctx: RequestContext, endpoint: ApiEndpoint, ticket: Ticket): void => {
    const t = ctx.cache
    if (t === undefined || t.status === "BYPASS") return deps.forward(ctx, endpoint, ticket)
    if (!coalescer.lead(t.key, follow(ctx, endpoint))) {
      deps.breaker.recordNow(ticket, "neither") // queued behind the leader: its admission is unused
      return
    }
    lead(ctx, endpoint, t, ticket)
  }
}
