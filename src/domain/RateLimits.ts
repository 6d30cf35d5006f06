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
  /** The global bucket's ref, and each endpoint bucket's: the same objects for every request. */
  readonly globalRef: BucketRef
  readonly endpointRefs: ReadonlyMap<string, BucketRef>
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
  const global: BucketSpec = { scope: "global", limit: r.global.requests_per_second, ratePerMs: r.global.requests_per_second / 1000, burst: r.global.burst, label: "global" }
  return {
    enabled: r.enabled,
    global,
    ip: { scope: "ip", limit: r.per_ip.requests_per_minute, ratePerMs: r.per_ip.requests_per_minute / 60_000, burst: r.per_ip.burst, label: "ip" },
    endpoints,
    prefixes: [...endpoints.keys()],
    exempt: new Set(r.exempt_paths),
    globalRef: { spec: global, key: "" },
    endpointRefs: new Map([...endpoints].map(([prefix, spec]) => [prefix, { spec, key: prefix }]))
  }
}

/** The buckets around the client's own: global before it, the endpoint's (if any) after. */
export interface SharedBuckets {
  readonly before: BucketRef
  readonly after: BucketRef | undefined
}

/** A request's buckets but its client's; undefined when limits are off or the path is exempt. */
export const sharedBuckets = (limits: RateLimits, normalizedPath: string, rawPath: string): SharedBuckets | undefined => {
  if (!limits.enabled || limits.exempt.has(normalizedPath) || limits.exempt.has(rawPath)) return undefined
  const prefix = limits.prefixes.length === 0 ? undefined : longestPrefix(limits.prefixes, normalizedPath)
  return { before: limits.globalRef, after: prefix === undefined ? undefined : limits.endpointRefs.get(prefix) }
}

/** The buckets a request passes, in SPEC order (global, client IP, endpoint); none when limits are off or its path is exempt. */
export const withClient = (limits: RateLimits, shared: SharedBuckets | undefined, clientIp: string): ReadonlyArray<BucketRef> => {
  if (shared === undefined) return []
  const ip: BucketRef = { spec: limits.ip, key: clientIp }
  return shared.after === undefined ? [shared.before, ip] : [shared.before, ip, shared.after]
}

export const bucketsFor = (limits: RateLimits, normalizedPath: string, rawPath: string, clientIp: string): ReadonlyArray<BucketRef> =>
  withClient(limits, sharedBuckets(limits, normalizedPath, rawPath), clientIp)
