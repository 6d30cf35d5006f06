// Redis over TLS (`rediss://`, README Configuration): a redis-server of the test's own that
// speaks TLS only, with a self-signed certificate. A gateway told to trust it through
// NODE_EXTRA_CA_CERTS (node's own way to add a CA) keeps its limits there; one that is not
// told refuses the unverified server and answers from its local buckets instead.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Redis } from "ioredis"
import { freePort } from "../support/HttpBackend.js"
import { eventually, send } from "../support/HttpClient.js"
import { spawnGateway, waitForReady, writeConfig } from "../support/ProcessGateway.js"
import { killProcess, spawnRedisServer, untilPing } from "../support/RedisHarness.js"
import { certificateDir, type CertificatePair, makeCertificate } from "../support/TlsCertificates.js"

/** redis-server with TLS only (no plain port) on a free port, killed with the scope. */
const tlsRedis = (pair: CertificatePair) =>
  Effect.gen(function* () {
    const port = yield* freePort
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawnRedisServer([
          "--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1",
          "--tls-cert-file", pair.certFile, "--tls-key-file", pair.keyFile, "--tls-auth-clients", "no",
          "--save", "", "--appendonly", "no"
        ])),
      killProcess
    )
    yield* untilPing(port, { ca: pair.cert, timeoutMs: 1_000 }, 10_000)
    return port
  })

/** The test's own verified client on database `db` of the TLS server. */
const probe = (port: number, db: number, ca: Buffer) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis({ host: "127.0.0.1", port, db, tls: { ca, servername: "localhost" }, maxRetriesPerRequest: 1 })),
    (client) => Effect.sync(() => client.disconnect())
  )

/** A gateway whose limits (3 requests, then 429) are in database `db` of the TLS server (`userinfo`: "user:password@"). */
const gatewayOn = (redisPort: number, db: number, env: Readonly<Record<string, string>>, userinfo = "") =>
  Effect.gen(function* () {
    const port = yield* freePort
    const path = yield* writeConfig([
      "server: {host: 127.0.0.1, mode: test}",
      "auth: {enabled: false}",
      "health: {check_services: false}",
      "rate_limit:",
      "  store: redis",
      `  redis_url: "rediss://${userinfo}localhost:${redisPort}/${db}"`,
      "  global: {requests_per_second: 0.001, burst: 3}",
      "  per_ip: {requests_per_minute: 100000, burst: 100000}",
      "  exempt_paths: [/health/liveness, /metrics]",
      "logging: {level: warn}",
      ""
    ].join("\n"))
    const proc = yield* spawnGateway({ CONFIG_PATH: path, SERVER_PORT: String(port), ...env })
    const base = `http://127.0.0.1:${port}`
    yield* waitForReady(proc, `${base}/health/liveness`, 30_000)
    return { proc, base }
  })

const statuses = (base: string) => Effect.forEach(Array.from({ length: 5 }), () => Effect.map(send(`${base}/version`), (r) => r.status))
const fallbackActive = (base: string) =>
  Effect.map(send(`${base}/metrics`), (r) => Number(/^api_gateway_rate_limit_fallback_active (\S+)$/m.exec(r.text)?.[1]))

describe("Redis over TLS", () => {
  it.scopedLive("keeps the limits in a rediss:// server whose CA it is given, and refuses one it cannot verify", () =>
    Effect.gen(function* () {
      const pair = yield* Effect.flatMap(certificateDir, (dir) => makeCertificate(dir, "redis"))
      const redisPort = yield* tlsRedis(pair)

      const trusted = yield* gatewayOn(redisPort, 1, { NODE_EXTRA_CA_CERTS: pair.certFile })
      assert.deepStrictEqual(yield* statuses(trusted.base), [200, 200, 200, 429, 429])
      assert.strictEqual(yield* fallbackActive(trusted.base), 0, "the limits are in Redis")
      const db1 = yield* probe(redisPort, 1, pair.cert)
      assert.include(yield* Effect.promise(() => db1.keys("gw:rl2:*")), "gw:rl2:{global}")

      // the same server, no CA given: the handshake fails verification, the gateway serves from
      // its local buckets (the same limits) and says why
      const untrusted = yield* gatewayOn(redisPort, 2, {}, ":not-for-logs@")
      assert.deepStrictEqual(yield* statuses(untrusted.base), [200, 200, 200, 429, 429])
      yield* eventually(
        Effect.flatMap(fallbackActive(untrusted.base), (v) => (v === 1 ? Effect.void : Effect.fail(new Error(`fallback ${v}`)))),
        { timeoutMs: 5_000, intervalMs: 100 }
      )
      const db2 = yield* probe(redisPort, 2, pair.cert)
      assert.deepStrictEqual(yield* Effect.promise(() => db2.keys("*")), [], "nothing was written through an unverified connection")
      const warning = untrusted.proc.stdout().split("\n").find((l) => l.includes("Redis connection failed"))
      assert.isDefined(warning, `stdout:\n${untrusted.proc.stdout().slice(-2_000)}`)
      assert.match(warning!, /certificate/i, warning)
      assert.include(warning!, `rediss://[REDACTED]@localhost:${redisPort}/2`, "the URL, its password redacted")
      assert.notInclude(untrusted.proc.stdout(), "not-for-logs")
    }), 60_000)
})
