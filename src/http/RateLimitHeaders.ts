import type { ServerResponse } from "node:http"
import { ceilSeconds, refillSeconds } from "../domain/TokenBucket.js"
import type { Quota } from "../services/RateLimiter.js"

/** SPEC §4: the passing bucket with the fewest tokens left, classic and IETF-draft fields. */
export const setRateLimitHeaders = (res: ServerResponse, q: Quota): void => {
  const remaining = Math.max(0, Math.floor(q.remaining))
  const { spec } = q
  res.setHeader("x-ratelimit-limit", String(spec.limit))
  res.setHeader("x-ratelimit-burst", String(spec.burst))
  res.setHeader("x-ratelimit-remaining", String(remaining))
  res.setHeader("ratelimit-policy", `"${spec.scope}";q=${spec.burst};w=${refillSeconds(spec)}`)
  res.setHeader("ratelimit", `"${spec.scope}";r=${remaining};t=${ceilSeconds(q.msUntilToken)}`)
}
