// What a request target means under one config snapshot, worked out once per distinct GET
// target and remembered (Kong's router keeps an LRU of its matches the same way): the parsed
// path or its refusal, the route match, the rate-limit buckets other than the client's own, the
// cache rule and, for a shared rule, the cache's base key. All of it depends on the method and
// the target only; reads repeat a handful of targets (one ticker, one account), and parsing,
// matching and key building were ~6 % of a cache hit's CPU (perf, 2026-11-29; callgrind: 179.9k
// → 160.7k instructions a hit with it). Only GETs are remembered, in one bounded map: a map per
// method would let a client multiply the memory by the methods node's parser accepts, and the
// other methods go upstream anyway. A plan owns its resolver, so a reload starts with an empty one.
import { baseKey, type CacheRule, type CacheRules, ruleFor } from "../domain/CacheRules.js"
import { LruMap } from "../domain/LruMap.js"
import { type RateLimits, type SharedBuckets, sharedBuckets } from "../domain/RateLimits.js"
import { isRefusal, type ParsedTarget, parseTarget } from "../domain/RequestPath.js"
import type { RouteMatch, Router } from "../domain/Router.js"

export interface Resolved<R> {
  readonly target: ParsedTarget
  /** Undefined when the target is refused. */
  readonly match: RouteMatch<R> | undefined
  /** The buckets around the client's own; undefined when the path is exempt or limits are off. */
  readonly buckets: SharedBuckets | undefined
  readonly rule: CacheRule | undefined
  /** The base cache key when the rule is shared (no identity in it). */
  readonly sharedBase: string | undefined
}

/** Targets longer than this are resolved every time: a remembered one costs ~5× its length in memory. */
export const rememberedTargetLength = 256

export interface Resolver<R> {
  readonly resolve: (method: string, url: string) => Resolved<R>
}

export const makeResolver = <R>(deps: {
  readonly router: Router<R>
  readonly limits: RateLimits
  readonly cacheRules: CacheRules
  readonly capacity: number
}): Resolver<R> => {
  const work = (method: string, url: string): Resolved<R> => {
    const target = parseTarget(url)
    if (isRefusal(target)) return { target, match: undefined, buckets: undefined, rule: undefined, sharedBase: undefined }
    const rule = ruleFor(deps.cacheRules, method, target.normalized)
    return {
      target,
      match: deps.router.match(method, target.segments),
      buckets: sharedBuckets(deps.limits, target.normalized, target.raw),
      rule,
      sharedBase: rule?.shared === true ? baseKey({ rule, path: target.normalized, query: target.query, identity: "" }) : undefined
    }
  }
  const gets = new LruMap<string, Resolved<R>>(deps.capacity)
  return {
    resolve: (method, url) => {
      if (method !== "GET" || url.length > rememberedTargetLength) return work(method, url)
      let resolved = gets.get(url)
      if (resolved === undefined) gets.set(url, (resolved = work(method, url)))
      return resolved
    }
  }
}
