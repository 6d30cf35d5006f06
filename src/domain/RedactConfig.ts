// The running config as the admin API shows it: the JWT secret, every API key and any
// credential inside a URL (Redis passwords above all) replaced, whatever else is there.
import type { GatewayConfig } from "./GatewayConfig.js"

export const redacted = "[REDACTED]"

const userinfo = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i
const secretParameter = /([?&](?:password|pass|pwd|secret|token|key|access_token|sentinel_password)=)[^&#]*/gi

/** `redis://user:pass@host:6379/0?password=x` → `redis://[REDACTED]@host:6379/0?password=[REDACTED]`. */
export const redactUrl = (text: string): string =>
  text.replace(userinfo, `$1${redacted}@`).replace(secretParameter, `$1${redacted}`)

// every string goes through redactUrl, so a URL-valued key added later is covered too
const walk = (value: unknown): unknown => {
  if (typeof value === "string") return redactUrl(value)
  if (Array.isArray(value)) return value.map(walk)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]))
  }
  return value
}

export const redactConfig = (config: GatewayConfig): Record<string, unknown> => {
  const doc = walk(config) as Record<string, unknown>
  doc.auth = {
    ...(doc.auth as Record<string, unknown>),
    jwt_secret: config.auth.jwt_secret === "" ? "" : redacted,
    api_keys: config.auth.api_keys.map((k) => ({ ...k, key: redacted }))
  }
  return doc
}
