// From the text of config.yaml to a checked GatewayConfig (SPEC §1): ${VAR} expansion,
// YAML parsing, the environment overrides, Schema decoding and the rules that span keys.
// Pure: the file and the environment are read by the GatewayConfigFile layer.
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { isIP } from "node:net"
import { parse as parseYaml, YAMLParseError } from "yaml"
import { GatewayConfig } from "./GatewayConfig.js"

export type Env = Readonly<Record<string, string | undefined>>

const reference = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/** Names referenced as ${NAME} outside comment lines. */
export const referencedVariables = (text: string): Array<string> => {
  const names = new Set<string>()
  for (const line of text.split("\n")) {
    if (line.trimStart().startsWith("#")) continue
    for (const m of line.matchAll(reference)) names.add(m[1]!)
  }
  return [...names]
}

export const expandVariables = (text: string, env: Env): { text: string; problems: Array<string> } => {
  const problems: Array<string> = []
  const lines = text.split("\n").map((line, i) =>
    line.trimStart().startsWith("#")
      ? line
      : line.replace(reference, (_, name: string, fallback: string | undefined) => {
        const value = env[name]
        if (value !== undefined && value !== "") return value
        if (fallback !== undefined) return fallback
        problems.push(`line ${i + 1}: environment variable ${name} is not set and has no default (write \${${name}:-default})`)
        return "" // keep going: the other problems of the file are reported too
      })
  )
  return { text: lines.join("\n"), problems }
}

export const parseDocument = (text: string): Either.Either<unknown, Array<string>> => {
  try {
    const doc: unknown = parseYaml(text, { uniqueKeys: true, logLevel: "error" })
    return Either.right(doc ?? {})
  } catch (e) {
    const message = e instanceof YAMLParseError
      ? (e.message.split("\n")[0] ?? "").replace(/:$/, "")
      : String(e)
    return Either.left([`invalid YAML: ${message}`])
  }
}

// SPEC §1: environment overrides, applied after the file.
const overrides: ReadonlyArray<readonly [string, ReadonlyArray<string>, "string" | "number" | "boolean"]> = [
  ["SERVER_PORT", ["server", "port"], "number"],
  ["SERVER_HOST", ["server", "host"], "string"],
  ["LOG_LEVEL", ["logging", "level"], "string"],
  ["JWT_SECRET", ["auth", "jwt_secret"], "string"],
  ["REDIS_URL", ["cache", "redis_url"], "string"],
  ["AUTH_ENABLED", ["auth", "enabled"], "boolean"],
  ["CACHE_ENABLED", ["cache", "enabled"], "boolean"],
  ["RATE_LIMIT_ENABLED", ["rate_limit", "enabled"], "boolean"]
]
export const overrideVariables = overrides.map(([name]) => name)

const coerce = (value: string, kind: "string" | "number" | "boolean"): unknown => {
  if (kind === "number" && /^\d+$/.test(value)) return Number(value)
  if (kind === "boolean" && (value === "true" || value === "false")) return value === "true"
  return value // left as text, so the Schema names the key and shows the bad value
}

export const applyOverrides = (doc: unknown, env: Env): unknown => {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return doc
  const root: Record<string, unknown> = { ...(doc as Record<string, unknown>) }
  for (const [name, [sectionKey, key], kind] of overrides) {
    const value = env[name]
    if (value === undefined || value === "") continue
    const section = root[sectionKey!]
    const base = typeof section === "object" && section !== null && !Array.isArray(section) ? section : {}
    root[sectionKey!] = { ...base, [key!]: coerce(value, kind) }
  }
  return root
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path
    .map((k, i) =>
      typeof k === "number" ? `[${k}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(String(k)) ? `${i === 0 ? "" : "."}${String(k)}` : `[${JSON.stringify(String(k))}]`
    )
    .join("") || "(document)"

const issueMessage = (issue: ParseResult.ArrayFormatterIssue): string => {
  switch (issue._tag) {
    case "Unexpected":
      return `unknown key${issue.message.includes("expected:") ? ` (${issue.message.slice(issue.message.indexOf("expected:"))})` : ""}`
    case "Missing":
      return "is required"
    default: {
      // Schema's own wording for a section given as a scalar, from the default-value transformation
      const generic = /^Expected (\w+).*, actual (.*)$/s.exec(issue.message)
      if (generic === null) return issue.message
      return `expected ${generic[1] === "Struct" ? "a mapping of keys" : generic[1]!.toLowerCase()}, got ${generic[2]}`
    }
  }
}

const decodeIssues = (doc: unknown): Either.Either<GatewayConfig, Array<ParseResult.ArrayFormatterIssue>> =>
  Schema.decodeUnknownEither(GatewayConfig)(doc, { errors: "all", onExcessProperty: "error" }).pipe(
    Either.mapLeft((error) => ParseResult.ArrayFormatter.formatErrorSync(error))
  )

export const decodeDocument = (doc: unknown): Either.Either<GatewayConfig, Array<string>> =>
  Either.mapLeft(decodeIssues(doc), (issues) => issues.map((issue) => `${formatPath(issue.path)}: ${issueMessage(issue)}`))

const withoutPaths = (doc: unknown, paths: ReadonlyArray<ReadonlyArray<PropertyKey>>): unknown => {
  const copy: unknown = structuredClone(doc)
  for (const path of paths) {
    let at: unknown = copy
    for (const key of path.slice(0, -1)) at = typeof at === "object" && at !== null ? (at as Record<PropertyKey, unknown>)[key] : undefined
    if (typeof at === "object" && at !== null && path.length > 0) delete (at as Record<PropertyKey, unknown>)[path[path.length - 1]!]
  }
  return copy
}

/**
 * The document decoded once more without the keys that failed (each failed key falling
 * back to its default, one level up at a time), so the rules that span keys can still
 * run and every problem is reported at once (SPEC §1).
 */
const decodeWithoutFailures = (doc: unknown, issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>): GatewayConfig | undefined => {
  let paths = issues.map((i) => i.path)
  for (let round = 0; round < 4 && paths.some((p) => p.length > 0); round++) {
    const retried = decodeIssues(withoutPaths(doc, paths))
    if (Either.isRight(retried)) return retried.right
    paths = [...paths.map((p) => p.slice(0, -1)), ...retried.left.map((i) => i.path)]
  }
  return undefined
}

const validCidr = (text: string): boolean => {
  const [address, bits, ...rest] = text.split("/")
  const family = isIP(address ?? "")
  if (family === 0 || rest.length > 0) return false
  if (bits === undefined) return true
  const n = Number(bits)
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128)
}

export interface Checked {
  readonly problems: Array<string>
  readonly warnings: Array<string>
}

/** Rules that span keys or depend on the mode (SPEC §1–2). */
export const checkConfig = (c: GatewayConfig): Checked => {
  const problems: Array<string> = []
  const warnings: Array<string> = []
  c.server.trusted_proxies.forEach((p, i) => {
    if (!validCidr(p)) problems.push(`server.trusted_proxies[${i}]: expected an IP address or CIDR such as "10.0.0.0/8", got ${JSON.stringify(p)}`)
  })
  if (c.tls.enabled) {
    if (c.tls.cert_file === undefined) problems.push("tls.cert_file: is required when tls.enabled is true")
    if (c.tls.key_file === undefined) problems.push("tls.key_file: is required when tls.enabled is true")
  }
  if (c.rate_limit.store === "redis" && c.rate_limit.redis_url === undefined && c.cache.redis_url === undefined) {
    problems.push("rate_limit.store: \"redis\" needs rate_limit.redis_url or cache.redis_url")
  }
  const seen = new Map<string, number>()
  c.auth.api_keys.forEach((k, i) => {
    const first = seen.get(k.key)
    if (first !== undefined) problems.push(`auth.api_keys[${i}].key: the same key as auth.api_keys[${first}]`)
    seen.set(k.key, i)
  })
  const names = new Map<string, number>()
  c.auth.api_keys.forEach((k, i) => {
    if (k.name === undefined) return
    const first = names.get(k.name)
    if (first !== undefined) problems.push(`auth.api_keys[${i}].name: the same name as auth.api_keys[${first}]`)
    names.set(k.name, i)
  })
  const publicPaths = [c.health.path, `${c.health.path}/liveness`, `${c.health.path}/readiness`, c.metrics.path]
  if (c.websocket.enabled && publicPaths.includes(c.websocket.path)) {
    problems.push(`websocket.path: ${JSON.stringify(c.websocket.path)} is already a public endpoint`)
  }
  if (c.metrics.path === c.health.path) problems.push(`metrics.path: ${JSON.stringify(c.metrics.path)} is already health.path`)

  if (c.auth.enabled) {
    const weak: Array<string> = []
    if (Buffer.byteLength(c.auth.jwt_secret) < 32) weak.push("auth.jwt_secret: shorter than 32 bytes")
    c.auth.api_keys.forEach((k, i) => {
      if (k.key.includes("change-this")) weak.push(`auth.api_keys[${i}].key: is a placeholder (contains "change-this")`)
    })
    // SPEC §1: release refuses placeholder secrets; debug warns; test is debug without the warning
    if (c.server.mode === "release") problems.push(...weak.map((w) => `${w}; not allowed in server.mode "release"`))
    else if (c.server.mode === "debug") warnings.push(...weak.map((w) => `${w}; refused in server.mode "release"`))
  }
  if (!c.features.enable_request_id) {
    warnings.push("features.enable_request_id: false is ignored; every response carries X-Request-ID (SPEC §4)")
  }
  return { problems, warnings }
}

/** The whole path from text to config, every problem at once. */
export const loadConfigText = (text: string, env: Env): Either.Either<{ config: GatewayConfig; warnings: Array<string> }, Array<string>> => {
  const expanded = expandVariables(text, env)
  const parsed = parseDocument(expanded.text)
  if (Either.isLeft(parsed)) return Either.left([...expanded.problems, ...parsed.left])
  const doc = applyOverrides(parsed.right, env)
  const decoded = decodeIssues(doc)
  const config = Either.isRight(decoded) ? decoded.right : decodeWithoutFailures(doc, decoded.left)
  const checked = config === undefined ? { problems: [], warnings: [] } : checkConfig(config)
  const problems = [
    ...expanded.problems,
    ...(Either.isLeft(decoded) ? decoded.left.map((issue) => `${formatPath(issue.path)}: ${issueMessage(issue)}`) : []),
    ...checked.problems
  ]
  return problems.length > 0 || config === undefined ? Either.left(problems) : Either.right({ config, warnings: checked.warnings })
}
