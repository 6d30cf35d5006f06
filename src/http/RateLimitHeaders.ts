import { type BucketSpec, ceilSeconds, refillSeconds } from "../domain/TokenBucket.js"
import type { Quota } from "../services/RateLimiter.js"
import type { ResponseHeaders } from "./ResponseHeaders.js"

/** The header values that depend on the bucket's settings only, built once per compiled spec. */
const fixed = new WeakMap<BucketSpec, { readonly limit: string; readonly burst: string; readonly policy: string }>()
const fixedOf = (spec: BucketSpec) => {
  let f = fixed.get(spec)
  if (f === undefined) {
    f = { limit: String(spec.limit), burst: String(spec.burst), policy: `"${spec.scope}";q=${spec.burst};w=${refillSeconds(spec)}` }
    fixed.set(spec, f)
  }
  return f
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
  headers.set("ratelimit", `"${spec.scope}";r=${remaining};t=${ceilSeconds(q.msUntilToken)}`)
}
