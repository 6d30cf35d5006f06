import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { readFileSync } from "node:fs"
import {
  applyOverrides, checkConfig, decodeDocument, type Env, expandVariables, loadConfigText
} from "../../src/domain/ConfigDocument.js"
import type { GatewayConfig } from "../../src/domain/GatewayConfig.js"

const loaded = (text: string, env: Env = {}) => {
  const result = loadConfigText(text, env)
  if (Either.isLeft(result)) assert.fail(`expected the config to load, got:\n${result.left.join("\n")}`)
  return result.right
}
const configOf = (text: string, env: Env = {}): GatewayConfig => loaded(text, env).config

const problemsOf = (text: string, env: Env = {}): Array<string> => {
  const result = loadConfigText(text, env)
  if (Either.isRight(result)) assert.fail("expected the config to be refused")
  return result.left
}

const decoded = (doc: unknown): GatewayConfig => {
  const result = decodeDocument(doc)
  if (Either.isLeft(result)) assert.fail(`expected the document to decode, got:\n${result.left.join("\n")}`)
  return result.right
}

const hasProblemFor = (problems: ReadonlyArray<string>, keyPath: string): boolean =>
  problems.some((p) => p.startsWith(`${keyPath}:`))

const testMode = "server: {mode: test}\n"
const secret32 = "0123456789abcdef0123456789abcdef"

describe("ConfigDocument", () => {
  describe("defaults", () => {
    it("decodes an empty document to every default of SPEC §2", () => {
      const c = decoded({})
      assert.strictEqual(c.server.max_body_bytes, 10_485_760)
      assert.strictEqual(c.server.max_header_bytes, 65_536)
      assert.strictEqual(c.server.shutdown_delay, 0)
      assert.strictEqual(c.server.shutdown_timeout, 10_000)
      assert.deepStrictEqual(c.server.trusted_proxies, [])
      assert.strictEqual(c.server.workers, 1)
      assert.strictEqual(c.services.market_data.health_path, "/health")
      assert.strictEqual(c.auth.hide_credentials, false)
      assert.deepStrictEqual(c.auth.claims, { user_id: "user_id", role: "role" })
      assert.strictEqual(c.rate_limit.store, "memory")
      assert.strictEqual(c.rate_limit.per_ip.max_tracked, 100_000)
      assert.deepStrictEqual(c.rate_limit.exempt_paths, [])
      assert.strictEqual(c.circuit_breaker.failure_ratio, 0.6)
      assert.strictEqual(c.circuit_breaker.min_requests, 3)
      assert.deepStrictEqual(c.retry, { initial_interval: 100, max_interval: 5_000, multiplier: 2, budget_ratio: 0.2 })
      assert.strictEqual(c.cache.max_entries, 10_000)
      assert.strictEqual(c.health.readiness_breakers, "all")
      assert.strictEqual(c.tracing.service_name, "api-gateway")
      assert.strictEqual(c.tracing.sample_ratio, 1)
      assert.isUndefined(c.tracing.endpoint)
      assert.deepStrictEqual(c.websocket, {
        enabled: true, path: "/ws", service: "dashboard_server", backend_path: "/ws", max_connections: 1000, max_frame_bytes: 1_048_576,
        ping_interval: 30_000
      })
      assert.deepStrictEqual(c.admin, { enabled: false, host: "127.0.0.1", port: 9000 })
      assert.strictEqual(c.tls.enabled, false)
      assert.strictEqual(c.tls.min_version, "1.2")
    })

    it("loads a file naming only server.mode test", () => {
      const c = configOf(testMode)
      assert.strictEqual(c.server.mode, "test")
      assert.strictEqual(c.server.port, 8000)
      assert.strictEqual(c.cors.max_age, 3600)
    })

    it("refuses an empty file: the default mode is release and the default jwt_secret is empty", () => {
      const problems = problemsOf("")
      assert.isTrue(hasProblemFor(problems, "auth.jwt_secret"), problems.join("\n"))
    })

    it("loads an empty file when auth is disabled", () => {
      assert.strictEqual(configOf("auth: {enabled: false}\n").server.mode, "release")
    })
  })

  describe("problems", () => {
    it("names the key path and the bad value in one line", () => {
      assert.deepStrictEqual(problemsOf(`${testMode}rate_limit:\n  global:\n    burst: abc\n`), [
        "rate_limit.global.burst: expected a positive integer, got \"abc\""
      ])
    })

    it("reports every problem of a file at once, one string per problem", () => {
      const problems = problemsOf([
        "server: {mode: test, port: 70000, max_body_bytes: 0}",
        "rate_limit:",
        "  global: {burst: abc}",
        "  per_ip: {requests_per_minute: -1}",
        "logging: {level: loud}",
        "circuit_breaker: {failure_ratio: 1.5}"
      ].join("\n"))
      for (const key of ["server.port", "server.max_body_bytes", "rate_limit.global.burst", "rate_limit.per_ip.requests_per_minute", "logging.level", "circuit_breaker.failure_ratio"]) {
        assert.isTrue(hasProblemFor(problems, key), `no problem for ${key} in:\n${problems.join("\n")}`)
      }
      assert.strictEqual(problems.length, 6)
      for (const p of problems) assert.notInclude(p, "\n")
    })

    it("reports schema problems and cross-key problems of one file together (SPEC §1: every problem at once)", () => {
      const problems = problemsOf(`${testMode}rate_limit: {global: {burst: abc}}\ntls: {enabled: true}\n`)
      assert.isTrue(hasProblemFor(problems, "rate_limit.global.burst"), problems.join("\n"))
      assert.isTrue(hasProblemFor(problems, "tls.cert_file"), problems.join("\n"))
    })

    it("reports an unset variable together with the file's other problems (SPEC §1: every problem at once)", () => {
      const problems = problemsOf(`${testMode}auth: {jwt_secret: "\${GATEWAY_SECRET_UNSET}"}\nrate_limt: {enabled: false}\n`)
      assert.isTrue(problems.some((p) => p.includes("GATEWAY_SECRET_UNSET")), problems.join("\n"))
      assert.isTrue(hasProblemFor(problems, "rate_limt"), problems.join("\n"))
    })

    it("treats unknown keys as problems, at every level", () => {
      const problems = problemsOf(`server: {mode: test, prot: 8000}\nrate_limt: {enabled: false}\nservices:\n  foo: {url: "http://localhost:1"}\n`)
      assert.isTrue(hasProblemFor(problems, "rate_limt"), problems.join("\n"))
      assert.isTrue(hasProblemFor(problems, "server.prot"), problems.join("\n"))
      assert.isTrue(hasProblemFor(problems, "services.foo"), problems.join("\n"))
      assert.strictEqual(problems.length, 3)
    })

    it("refuses durations written as numbers", () => {
      const problems = problemsOf(`server: {mode: test, read_timeout: 10}\ncircuit_breaker: {timeout: 60}\n`)
      assert.isTrue(hasProblemFor(problems, "server.read_timeout"), problems.join("\n"))
      assert.isTrue(hasProblemFor(problems, "circuit_breaker.timeout"), problems.join("\n"))
    })

    it("refuses duration strings that are not Go durations", () => {
      const problems = problemsOf(`server: {mode: test, write_timeout: 10x}\n`)
      assert.deepStrictEqual(problems.length, 1)
      assert.isTrue(hasProblemFor(problems, "server.write_timeout"), problems.join("\n"))
      assert.include(problems[0]!, "\"10x\"")
    })

    it("decodes durations to milliseconds", () => {
      const c = configOf(`server: {mode: test, read_timeout: 1m30s, shutdown_delay: 500ms}\n`)
      assert.strictEqual(c.server.read_timeout, 90_000)
      assert.strictEqual(c.server.shutdown_delay, 500)
    })

    it("refuses invalid YAML", () => {
      const problems = problemsOf("server: [\n")
      assert.strictEqual(problems.length, 1)
      assert.match(problems[0]!, /YAML/)
    })

    it("refuses duplicate keys", () => {
      const problems = problemsOf("server:\n  mode: test\n  port: 1\n  port: 2\n")
      assert.strictEqual(problems.length, 1)
    })

    it("refuses a document that is not a mapping", () => {
      assert.strictEqual(problemsOf("[1, 2]\n").length, 1)
      assert.isTrue(hasProblemFor(problemsOf("server: 5\n"), "server"))
    })
  })

  describe("variables", () => {
    it("expands ${VAR} and ${VAR:-default}", () => {
      const { text, problems } = expandVariables("a: ${A}\nb: ${B:-fallback}\nc: ${C:-x}\n", { A: "one", C: "three" })
      assert.deepStrictEqual(problems, [])
      assert.strictEqual(text, "a: one\nb: fallback\nc: three\n")
    })

    it("reports an unset variable without a default, naming it", () => {
      const problems = problemsOf(`${testMode}auth: {jwt_secret: "\${GATEWAY_SECRET_UNSET}"}\n`)
      assert.strictEqual(problems.length, 1)
      assert.include(problems[0]!, "GATEWAY_SECRET_UNSET")
    })

    it("does not expand comment lines", () => {
      const { text, problems } = expandVariables("# uses ${NOT_SET}\n  # ${ALSO_NOT_SET}\na: 1\n", {})
      assert.deepStrictEqual(problems, [])
      assert.strictEqual(text, "# uses ${NOT_SET}\n  # ${ALSO_NOT_SET}\na: 1\n")
      assert.strictEqual(configOf(`${testMode}# jwt_secret: \${NOT_SET}\n`).server.mode, "test")
    })

    it("feeds expanded values to the schema", () => {
      const c = configOf("server: {mode: test, port: ${PORT:-8123}}\n", {})
      assert.strictEqual(c.server.port, 8123)
      assert.strictEqual(configOf("server: {mode: test, port: ${PORT:-8123}}\n", { PORT: "9001" }).server.port, 9001)
    })
  })

  describe("environment overrides", () => {
    it("applies every override after the file", () => {
      const c = configOf("server: {mode: test, port: 8000, host: \"0.0.0.0\"}\nauth: {enabled: true}\n", {
        SERVER_PORT: "9100",
        SERVER_HOST: "127.0.0.1",
        LOG_LEVEL: "debug",
        JWT_SECRET: secret32,
        REDIS_URL: "redis://localhost:6379/0",
        AUTH_ENABLED: "false",
        CACHE_ENABLED: "false",
        RATE_LIMIT_ENABLED: "false"
      })
      assert.strictEqual(c.server.port, 9100)
      assert.strictEqual(c.server.host, "127.0.0.1")
      assert.strictEqual(c.logging.level, "debug")
      assert.strictEqual(c.auth.jwt_secret, secret32)
      assert.strictEqual(c.cache.redis_url, "redis://localhost:6379/0")
      assert.strictEqual(c.auth.enabled, false)
      assert.strictEqual(c.cache.enabled, false)
      assert.strictEqual(c.rate_limit.enabled, false)
    })

    it("overrides win over the file's values", () => {
      const c = configOf("server: {mode: test}\nauth: {enabled: false}\ncache: {enabled: true}\n", { AUTH_ENABLED: "true", CACHE_ENABLED: "false" })
      assert.strictEqual(c.auth.enabled, true)
      assert.strictEqual(c.cache.enabled, false)
    })

    it("a bad SERVER_PORT names server.port", () => {
      const problems = problemsOf(testMode, { SERVER_PORT: "eighty" })
      assert.strictEqual(problems.length, 1)
      assert.isTrue(hasProblemFor(problems, "server.port"), problems.join("\n"))
      assert.include(problems[0]!, "eighty")
    })

    it("a boolean override that is not true/false names its key", () => {
      assert.isTrue(hasProblemFor(problemsOf(testMode, { AUTH_ENABLED: "yes please" }), "auth.enabled"))
      assert.isTrue(hasProblemFor(problemsOf(testMode, { RATE_LIMIT_ENABLED: "1x" }), "rate_limit.enabled"))
    })

    it("JWT_SECRET lets a release file load", () => {
      assert.strictEqual(configOf("", { JWT_SECRET: secret32 }).auth.jwt_secret, secret32)
    })

    it("applyOverrides leaves the document alone when nothing is set", () => {
      const doc = { server: { port: 1 } }
      assert.deepStrictEqual(applyOverrides(doc, {}), doc)
      assert.deepStrictEqual(applyOverrides(doc, { SERVER_PORT: "2" }), { server: { port: 2 } })
      assert.deepStrictEqual(doc, { server: { port: 1 } })
    })
  })

  describe("mode rules", () => {
    const weak = "auth:\n  jwt_secret: short\n  api_keys: [{key: admin-key-change-this, role: admin, name: console}]\n"

    it("release refuses a short jwt_secret and a change-this API key, one problem each", () => {
      const problems = problemsOf(`server: {mode: release}\n${weak}`)
      assert.strictEqual(problems.length, 2)
      assert.isTrue(hasProblemFor(problems, "auth.jwt_secret"), problems.join("\n"))
      assert.isTrue(hasProblemFor(problems, "auth.api_keys[0].key"), problems.join("\n"))
    })

    it("release accepts a 32-byte secret and refuses 31 bytes", () => {
      configOf(`server: {mode: release}\nauth: {jwt_secret: "${secret32}"}\n`)
      const problems = problemsOf(`server: {mode: release}\nauth: {jwt_secret: "${secret32.slice(1)}"}\n`)
      assert.isTrue(hasProblemFor(problems, "auth.jwt_secret"), problems.join("\n"))
    })

    it("release accepts placeholders when auth is disabled", () => {
      configOf(`server: {mode: release}\n${weak}`.replace("auth:\n", "auth:\n  enabled: false\n"))
    })

    it("debug accepts them with a warning for each", () => {
      const { config, warnings } = loaded(`server: {mode: debug}\n${weak}`)
      assert.strictEqual(config.auth.jwt_secret, "short")
      assert.isTrue(warnings.some((w) => w.startsWith("auth.jwt_secret")), warnings.join("\n"))
      assert.isTrue(warnings.some((w) => w.startsWith("auth.api_keys[0].key")), warnings.join("\n"))
    })

    it("test accepts them without a warning", () => {
      assert.deepStrictEqual(loaded(`server: {mode: test}\n${weak}`).warnings, [])
    })
  })

  describe("cross-key rules", () => {
    const checked = (doc: unknown) => checkConfig(decoded(doc)).problems

    it("accepts IPv4 and IPv6 addresses and CIDRs in trusted_proxies", () => {
      assert.deepStrictEqual(checked({ server: { mode: "test", trusted_proxies: ["10.0.0.0/8", "192.168.1.1", "::1/128", "fe80::/10", "2001:db8::1", "0.0.0.0/0"] } }), [])
    })

    it("refuses malformed trusted_proxies entries, naming each index", () => {
      const problems = checked({ server: { mode: "test", trusted_proxies: ["10.0.0.0/8", "10.0.0.0/33", "::1/129", "proxy.local", "10.0.0.0/", "1.2.3.4/8/1", "300.1.1.1"] } })
      assert.deepStrictEqual(problems.map((p) => p.slice(0, p.indexOf(":"))), [1, 2, 3, 4, 5, 6].map((i) => `server.trusted_proxies[${i}]`))
    })

    it("tls.enabled without cert and key files is a problem for each file", () => {
      const problems = checked({ server: { mode: "test" }, tls: { enabled: true } })
      assert.isTrue(hasProblemFor(problems, "tls.cert_file"), problems.join("\n"))
      assert.isTrue(hasProblemFor(problems, "tls.key_file"), problems.join("\n"))
      assert.deepStrictEqual(checked({ server: { mode: "test" }, tls: { enabled: true, cert_file: "c.pem", key_file: "k.pem" } }), [])
    })

    it("rate_limit.store redis needs a redis url", () => {
      const problems = checked({ server: { mode: "test" }, rate_limit: { store: "redis" } })
      assert.strictEqual(problems.length, 1)
      assert.isTrue(hasProblemFor(problems, "rate_limit.store"), problems.join("\n"))
      assert.deepStrictEqual(checked({ server: { mode: "test" }, rate_limit: { store: "redis", redis_url: "redis://r:6379" } }), [])
      assert.deepStrictEqual(checked({ server: { mode: "test" }, rate_limit: { store: "redis" }, cache: { redis_url: "redis://r:6379" } }), [])
    })

    it("REDIS_URL satisfies rate_limit.store redis", () => {
      assert.strictEqual(configOf(`${testMode}rate_limit: {store: redis}\n`, { REDIS_URL: "redis://r:6379" }).rate_limit.store, "redis")
    })

    it("refuses the same API key twice", () => {
      const problems = checked({
        server: { mode: "test" },
        auth: { api_keys: [{ key: "k1", role: "admin" }, { key: "k2", role: "viewer" }, { key: "k1", role: "viewer" }] }
      })
      assert.strictEqual(problems.length, 1)
      assert.isTrue(hasProblemFor(problems, "auth.api_keys[2].key"), problems.join("\n"))
    })
  })

  describe("the committed config.yaml", () => {
    const text = readFileSync(new URL("../../config.yaml", import.meta.url), "utf8")

    it("loads with an empty environment and no problems", () => {
      const c = configOf(text)
      assert.strictEqual(c.server.mode, "debug")
      assert.strictEqual(c.server.port, 8000)
      assert.strictEqual(c.auth.enabled, true)
      assert.deepStrictEqual(c.rate_limit.exempt_paths, ["/health/liveness", "/health/readiness", "/metrics"])
      assert.strictEqual(c.health.check_services, true)
      assert.strictEqual(c.cors.max_age, 3600)
      assert.isUndefined(c.cache.redis_url)
      assert.isUndefined(c.rate_limit.redis_url)
      assert.isUndefined(c.tracing.endpoint)
      assert.strictEqual(c.features.enable_tracing, false)
      assert.strictEqual(c.auth.api_keys.length, 3)
      for (const k of c.auth.api_keys) {
        assert.include(k.key, "change-this")
        assert.isString(k.name)
      }
    })

    it("lists every top-level section of SPEC §2 and all seven services", () => {
      const sections = ["server", "services", "auth", "rate_limit", "cors", "circuit_breaker", "retry", "cache", "health", "metrics", "logging", "features", "tls", "tracing", "websocket", "admin"]
      for (const s of sections) assert.match(text, new RegExp(`^${s}:`, "m"), `section ${s} missing`)
      for (const s of ["market_data", "order_execution", "strategy_engine", "account_monitor", "risk_manager", "configuration", "dashboard_server"]) {
        assert.match(text, new RegExp(`^  ${s}:`, "m"), `service ${s} missing`)
      }
    })

    it("lists every key of every section, optional ones at least in a comment", () => {
      const blocks = new Map<string, string>()
      for (const block of text.split(/^(?=[a-z_]+:)/m)) blocks.set(block.slice(0, block.indexOf(":")), block)
      const defaults = decoded({}) as unknown as Record<string, Record<string, unknown>>
      const optionalKeys: Record<string, ReadonlyArray<string>> = {
        auth: ["jwks_url", "issuer", "audience"], rate_limit: ["redis_url"], cache: ["redis_url"],
        tls: ["cert_file", "key_file"], tracing: ["endpoint"]
      }
      for (const [section, values] of Object.entries(defaults)) {
        const block = blocks.get(section) ?? ""
        const keys = section === "services" ? ["url", "timeout", "max_retries", "health_path"] : [...Object.keys(values), ...(optionalKeys[section] ?? [])]
        for (const key of keys) assert.match(block, new RegExp(`^\\s*(#\\s*)?${key}:`, "m"), `${section}.${key} is not in config.yaml`)
      }
    })

    it("sets no redis_url outside comments", () => {
      const active = text.split("\n").filter((l) => !l.trimStart().startsWith("#"))
      assert.isFalse(active.some((l) => /^\s*redis_url\s*:/.test(l)))
    })
  })
})
