import { type BucketSpec, ceilSeconds, refillSeconds } from "../domain/TokenBucket.js"
import type { Quota } from "../services/RateLimiter.js"
import type { ResponseHeaders } from "./ResponseHeaders.js"

interface SpecFields {
  readonly limit: string
  readonly burst: string
  readonly policy: string
  /** RateLimit values made so far, by remaining × 64 + seconds: a bucket's few states repeat. */
  readonly states: Map<number, string>
}

/** The header values that depend on the bucket's settings only, built once per compiled spec. */
const fixed = new WeakMap<BucketSpec, SpecFields>()
const fixedOf = (spec: BucketSpec) => {
  let f = fixed.get(spec)
  if (f === undefined) {
    f = { limit: String(spec.limit), burst: String(spec.burst), policy: `"${spec.scope}";q=${spec.burst};w=${refillSeconds(spec)}`, states: new Map() }
    fixed.set(spec, f)
  }
  return f
}

/** Remembered RateLimit values per spec: ~60 KB at most. */
export const rememberedStates = 1_024

// `"ip";r=9;t=1` and longer, made with a template, is a cons string that node's header check
// flattens on V8's slow path (~1.5k instructions a request, bench/count.mjs); a remembered one
// is flattened (in place) by its first check only
const rateLimitValue = (f: SpecFields, scope: string, remaining: number, seconds: number): string => {
  const key = seconds < 64 ? remaining * 64 + seconds : -1
  let value = f.states.get(key)
  if (value === undefined) {
    value = `"${scope}";r=${remaining};t=${seconds}`
    if (key !== -1 && f.states.size < rememberedStates) f.states.set(key, value)
  }
  return value
}

/** SPEC §4: the passing bucket with the fewest tokens left, classic and IETF-draft fields. */
export const setRateLimitHeaders = (headers: ResponseHeaders, q: Quota): void => {
  const remaining = Math.max(0, Math.floor(q.remaining))
  const { spec } = q
  const f = fixedOf(spec)
  headers.set("x-ratelimit-limit", f.limit)
  headers.set("x-ratelimit-burst", f.burst)
  headers.set("x-ratelimit-remaining", String(remaining))
  headers.set("ratelimit-policy", f.policy)
  headers.set("ratelimit", rateLimitValue(f, spec.scope, remaining, ceilSeconds(q.msUntilToken)))
}
