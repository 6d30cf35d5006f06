// In-process buckets: the memory store, and the Redis store's fallback. Client IPs are
// kept in an LRU of at most rate_limit.per_ip.max_tracked (SPEC §4 change).
import { RateLimited } from "../domain/Errors.js"
import { LruMap } from "../domain/LruMap.js"
import type { BucketRef } from "../domain/RateLimits.js"
import { type BucketState, fresh, msUntilToken, take } from "../domain/TokenBucket.js"
import type { Quota } from "../services/RateLimiter.js"

export class LocalBuckets {
  private global: BucketState | undefined
  readonly ips: LruMap<string, BucketState>
  private readonly endpoints = new Map<string, BucketState>()

  constructor(maxTracked: number) {
    this.ips = new LruMap(maxTracked)
  }

  private stateOf(ref: BucketRef, now: number): BucketState {
    switch (ref.spec.scope) {
      case "global":
        return (this.global ??= fresh(ref.spec, now))
      case "ip": {
        let s = this.ips.get(ref.key)
        if (s === undefined) this.ips.set(ref.key, (s = fresh(ref.spec, now)))
        return s
      }
      case "endpoint": {
        let s = this.endpoints.get(ref.key)
        if (s === undefined) this.endpoints.set(ref.key, (s = fresh(ref.spec, now)))
        return s
      }
    }
  }

  /** A Quota, or the refusal of the first bucket that has no token. */
  check(refs: ReadonlyArray<BucketRef>, now: number): Quota | RateLimited {
    let best: Quota | undefined
    for (const ref of refs) {
      const result = take(this.stateOf(ref, now), ref.spec, now)
      if (!result.allowed) return new RateLimited({ scope: ref.spec.scope, retryAfterMs: msUntilToken(result.tokens, ref.spec) }, true)
      if (best === undefined || result.tokens < best.remaining) {
        best = { spec: ref.spec, remaining: result.tokens, msUntilToken: msUntilToken(result.tokens, ref.spec) }
      }
    }
    return best!
  }

  /** Current tokens of the global and endpoint buckets (admin view). */
  snapshot(): { readonly global: number | undefined; readonly endpoints: ReadonlyArray<readonly [string, number]> } {
    return { global: this.global?.tokens, endpoints: [...this.endpoints].map(([k, s]) => [k, s.tokens] as const) }
  }
}
