import type { ServerResponse } from "node:http"
import { type BucketSpec, ceilSeconds, refillSeconds } from "../domain/TokenBucket.js"
import type { Quota } from "../services/RateLimiter.js"

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
export const setRateLimitHeaders = (res: ServerResponse, q: Quota): void => {
  const remaining = Math.max(0, Math.floor(q.remaining))
  const { spec } = q
  const f = fixedOf(spec)
  res.setHeader("x-ratelimit-limit", f.limit)
  res.setHeader("x-ratelimit-burst", f.burst)
  res.setHeader("x-ratelimit-remaining", String(remaining))
  res.setHeader("ratelimit-policy", f.policy)
  res.setHeader("ratelimit", `"${spec.scope}";r=${remaining};t=${ceilSeconds(q.msUntilToken)}`)
}
