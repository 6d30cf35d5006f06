// The rate-limit rules of one config snapshot, compiled once (SPEC §4 Rate limits).
import type { GatewayConfig } from "./GatewayConfig.js"
import { longestPrefix } from "./RequestPath.js"
import type { BucketSpec } from "./TokenBucket.js"

export interface RateLimits {
  readonly enabled: boolean
  readonly global: BucketSpec
  readonly ip: BucketSpec
  readonly endpoints: ReadonlyMap<string, BucketSpec>
  readonly prefixes: ReadonlyArray<string>
  readonly exempt: ReadonlySet<string>
}

/** One bucket a request must pass, in SPEC order: global, client IP, endpoint. */
export interface BucketRef {
  readonly spec: BucketSpec
  /** Which bucket of its scope: "" for global, the IP, or the endpoint prefix. */
  readonly key: string
}

export const compileRateLimits = (config: GatewayConfig): RateLimits => {
  const r = config.rate_limit
  const endpoints = new Map<string, BucketSpec>()
  for (const [prefix, b] of Object.entries(r.endpoints)) {
    endpoints.set(prefix, { scope: "endpoint", limit: b.requests_per_second, ratePerMs: b.requests_per_second / 1000, burst: b.burst, label: prefix })
  }
  return {
    enabled: r.enabled,
    global: { scope: "global", limit: r.global.requests_per_second, ratePerMs: r.global.requests_per_second / 1000, burst: r.global.burst, label: "global" },
    ip: { scope: "ip", limit: r.per_ip.requests_per_minute, ratePerMs: r.per_ip.requests_per_minute / 60_000, burst: r.per_ip.burst, label: "ip" },
    endpoints,
    prefixes: [...endpoints.keys()],
    exempt: new Set(r.exempt_paths)
  }
}

/** The buckets a request passes, or none when limits are off or its path is exempt. */
export const bucketsFor = (limits: RateLimits, normalizedPath: string, rawPath: string, clientIp: string): ReadonlyArray<BucketRef> => {
  if (!limits.enabled || limits.exempt.has(normalizedPath) || limits.exempt.has(rawPath)) return []
  const prefix = limits.prefixes.length === 0 ? undefined : longestPrefix(limits.prefixes, normalizedPath)
  const refs: Array<BucketRef> = [{ spec: limits.global, key: "" }, { spec: limits.ip, key: clientIp }]
  if (prefix !== undefined) refs.push({ spec: limits.endpoints.get(prefix)!, key: prefix })
  return refs
}
