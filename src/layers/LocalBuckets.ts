// In-process buckets: the memory store, and the Redis store's fallback. Client IPs are
// kept in an LRU of at most rate_limit.per_ip.max_tracked (SPEC §4 change).
import { RateLimited } from "../domain/Errors.js"
import { LruMap } from "../domain/LruMap.js"
import type { BucketRef, RateLimits } from "../domain/RateLimits.js"
import { type BucketState, fresh, msUntilToken, take, tokensAt } from "../domain/TokenBucket.js"
import type { Quota, RateLimiterStats } from "../services/RateLimiter.js"

/** Refused requests per client IP, for the admin API: an LRU, so its memory is bounded. */
export class Rejections {
  private readonly counts = new LruMap<string, number>(10_000)

  /** `refs` of a refused request: whichever bucket refused, its client IP is counted. */
  record(refs: ReadonlyArray<BucketRef>): void {
    const ip = refs.find((r) => r.spec.scope === "ip")?.key
    if (ip !== undefined) this.counts.set(ip, (this.counts.peek(ip) ?? 0) + 1)
  }

  top(n: number): RateLimiterStats["topRejected"] {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([ip, rejections]) => ({ ip, rejections }))
  }
}

export class LocalBuckets {
  private global: BucketState | undefined
  readonly ips: LruMap<string, BucketState>
  private readonly endpoints = new Map<string, BucketState>()
  readonly rejections = new Rejections()

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
      if (!result.allowed) {
        this.rejections.record(refs)
        return new RateLimited({ scope: ref.spec.scope, retryAfterMs: msUntilToken(result.tokens, ref.spec) }, true)
      }
      if (best === undefined || result.tokens < best.remaining) {
        best = { spec: ref.spec, remaining: result.tokens, msUntilToken: msUntilToken(result.tokens, ref.spec) }
      }
    }
    return best!
  }

  /** Tokens now in the global and configured endpoint buckets (admin view). */
  snapshot(limits: RateLimits, now: number): Pick<RateLimiterStats, "globalTokens" | "endpointTokens"> {
    return {
      globalTokens: tokensAt(this.global, limits.global, now),
      endpointTokens: [...limits.endpoints].map(([prefix, spec]) => ({ prefix, tokens: tokensAt(this.endpoints.get(prefix), spec, now) }))
    }
  }
}
