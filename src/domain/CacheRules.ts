// SPEC §4 Cache: which requests and responses may be cached, and under which key.
import { hash } from "node:crypto"
import type { GatewayConfig } from "./GatewayConfig.js"
import { jsonString } from "./JsonString.js"
import { longestPrefix } from "./RequestPath.js"

export interface CacheRule {
  readonly prefix: string
  readonly ttlMs: number
  readonly shared: boolean
}

export interface CacheRules {
  readonly enabled: boolean
  readonly prefixes: ReadonlyArray<string>
  readonly rules: ReadonlyMap<string, CacheRule>
}

export const compileCacheRules = (config: GatewayConfig): CacheRules => {
  const rules = new Map<string, CacheRule>()
  for (const [prefix, r] of Object.entries(config.cache.rules)) {
    rules.set(prefix, { prefix, ttlMs: r.ttl ?? config.cache.default_ttl, shared: r.shared })
  }
  return { enabled: config.cache.enabled && rules.size > 0, prefixes: [...rules.keys()], rules }
}

/** Only GETs under a rule prefix, longest on a segment boundary (SPEC §4 change). */
export const ruleFor = (rules: CacheRules, method: string, normalizedPath: string): CacheRule | undefined => {
  if (!rules.enabled || method !== "GET") return undefined
  const prefix = longestPrefix(rules.prefixes, normalizedPath)
  return prefix === undefined ? undefined : rules.rules.get(prefix)
}

export const maxEntryBytes = 1_048_576

type HeaderValue = string | ReadonlyArray<string> | undefined

const lower = (v: HeaderValue): string => (v === undefined ? "" : typeof v === "string" ? v : v.join(",")).toLowerCase()

/** The response's Vary names, lowercased; "*" when it varies on everything. */
export const varyNames = (vary: HeaderValue): ReadonlyArray<string> =>
  lower(vary).split(",").map((s) => s.trim()).filter((s) => s !== "").sort()

export const cacheableResponse = (status: number, headers: Readonly<Record<string, HeaderValue>>): boolean => {
  if (status !== 200 || headers["set-cookie"] !== undefined) return false
  const cc = lower(headers["cache-control"])
  if (cc.includes("no-store") || cc.includes("private")) return false
  if (varyNames(headers["vary"]).includes("*")) return false
  const length = headers["content-length"]
  return typeof length !== "string" || Number(length) <= maxEntryBytes
}

/** Query pairs sorted by name, then value, so their order does not split the cache. */
export const sortedQuery = (query: string): string =>
  query === "" ? "" : query.split("&").filter((p) => p !== "").map((p) => {
    const i = p.indexOf("=")
    return i < 0 ? [p, ""] as const : [p.slice(0, i), p.slice(i + 1)] as const
  }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`).join("&")

export interface KeyParts {
  readonly rule: CacheRule
  readonly path: string
  readonly query: string
  /** u:<user id>, k:<key name or hash prefix>, or a hash of the credential headers; unused for shared rules. */
  readonly identity: string
}

/**
 * The part of the key known before the response: what its Vary names are learned against.
 * JSON, not a separator: no user id or header value can make two keys' parts line up. It is
 * JSON.stringify(["GET", path, sorted query, identity]), written by hand (no generic walk).
 */
export const baseKey = (p: KeyParts): string =>
  `["GET",${jsonString(p.path)},${jsonString(sortedQuery(p.query))},${jsonString(p.rule.shared ? "" : p.identity)}]`

export const cacheKey = (rule: CacheRule, base: string, vary: ReadonlyArray<readonly [string, string]>): string =>
  `gw:cache:v1:${rule.prefix}:${hash("sha256", vary.length === 0 ? base : JSON.stringify([base, vary]), "hex")}` // one-shot: no Hash object

/** With auth off, callers are told apart by their credential headers (`anon` when none). */
export const anonymousIdentity = (authorization: string | undefined, apiKey: string | undefined): string =>
  authorization === undefined && apiKey === undefined
    ? "anon"
    : `h:${hash("sha256", `${authorization ?? ""}\n${apiKey ?? ""}`, "hex").slice(0, 32)}`
