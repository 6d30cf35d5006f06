// Redis Cluster (SPEC §7, issue 10): the Redis rate limiter and cache against a real
// 3-master cluster started on loopback ports by the test, its nodes password-protected; each
// bucket's script touches one slot (its own hash tag), so the buckets land on different
// masters and still agree.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type ChildProcess, execFile } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { freePort, startBackend } from "../support/HttpBackend.js"
import { eventually, realTime, send } from "../support/HttpClient.js"
import { killProcess, spawnRedisServer, untilPing } from "../support/RedisHarness.js"
import { gatewayUrl, makeTestGateway } from "../support/TestGateway.js"

const run = promisify(execFile)
const password = "cluster-pw"
/** redis-cli with the nodes' password. */
const cli = (args: ReadonlyArray<string>) => run("redis-cli", ["--no-auth-warning", "-a", password, ...args])

class ClusterPorts extends Context.Tag("test/ClusterPorts")<ClusterPorts, ReadonlyArray<number>>() {}

/** Three masters, no replicas, on free loopback ports; stopped with the scope. */
const redisCluster = Effect.acquireRelease(
  Effect.gen(function* () {
    const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "gateway-redis-cluster-")))
    const ports = [yield* freePort, yield* freePort, yield* freePort]
    const servers: Array<ChildProcess> = ports.map((port) =>
      spawnRedisServer([
        "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--cluster-enabled", "yes", "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--dir", dir,
        "--requirepass", password, "--masterauth", password
      ])
    )
    for (const port of ports) yield* untilPing(port, { password }, 10_000)
    yield* Effect.tryPromise(() =>
      cli(["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"])
    ).pipe(Effect.orDie)
    yield* eventually(
      Effect.tryPromise(() => cli(["-p", String(ports[0]), "cluster", "info"])).pipe(
        Effect.flatMap(({ stdout }) => (stdout.includes("cluster_state:ok") ? Effect.void : Effect.fail(new Error("cluster not ready"))))
      ),
      { timeoutMs: 15_000, intervalMs: 200 }
    )
    return { ports, servers, dir }
  }),
  ({ dir, servers }) =>
    Effect.zipRight(Effect.forEach(servers, killProcess, { discard: true }), Effect.promise(() => rm(dir, { recursive: true, force: true })))
)

const keysOn = (port: number, pattern: string) =>
  Effect.promise(() => cli(["-p", String(port), "--scan", "--pattern", pattern])).pipe(
    Effect.map(({ stdout }) => stdout.split("\n").filter((l) => l !== ""))
  )

/** A bucket's tokens, read through the cluster (redis-cli -c follows MOVED to the master holding the key; Lua unpacks the script's layout). */
const tokensInCluster = (port: number, key: string) =>
  Effect.promise(() =>
    cli(["-c", "-p", String(port), "eval", "local v = redis.call('GET', KEYS[1]) if not v then return false end return tostring((struct.unpack('<dd', v)))", "1", key])
  ).pipe(Effect.map(({ stdout }) => stdout.trim()))

const burst = 12

const gateway = Layer.unwrapScoped(
  Effect.gen(function* () {
    const cluster = yield* redisCluster
    const backend = yield* startBackend()
    const url = `redis+cluster://:${password}@${cluster.ports.map((p) => `127.0.0.1:${p}`).join(",")}`
    return makeTestGateway({
      services: { market_data: { url: backend.url } },
      rate_limit: {
        enabled: true,
        store: "redis",
        redis_url: url,
        global: { requests_per_second: 0.001, burst },
        per_ip: { requests_per_minute: 100_000, burst: 100_000 },
        // refills too slowly to hide a token not given back
        endpoints: { "/api/v1/market-data": { requests_per_second: 0.001, burst: 1_000 } },
        exempt_paths: ["/metrics"]
      },
      cache: { redis_url: url, rules: { "/api/v1/market-data/symbols": { ttl: "30s", shared: true } } }
    }).pipe(Layer.merge(Layer.succeed(ClusterPorts, cluster.ports)))
  })
)

describe("RedisCluster", () => {
  layer(gateway, { ...realTime, timeout: 60_000 })((it) => {
    it.effect("limits across buckets that live on different masters, and caches in the cluster", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const first = yield* send(`${base}/api/v1/market-data/symbols`)
        assert.strictEqual(first.status, 200)
        assert.strictEqual(first.headers.get("x-cache"), "MISS")
        const second = yield* send(`${base}/api/v1/market-data/symbols`)
        assert.strictEqual(second.headers.get("x-cache"), "HIT", "the entry was stored in the cluster")
        const rest = yield* Effect.forEach(Array.from({ length: burst }), () => send(`${base}/api/v1/market-data/ticker/X`), { concurrency: 4 })
        const statuses = [first.status, second.status, ...rest.map((r) => r.status)]
        assert.strictEqual(statuses.filter((s) => s === 200).length, burst, `statuses: ${statuses.join(",")}`)
        assert.strictEqual(statuses.filter((s) => s === 429).length, 2)
        const metrics = (yield* send(`${base}/metrics`)).text
        assert.match(metrics, /api_gateway_rate_limit_fallback_active 0/, "Redis Cluster answered: no fallback to local buckets")
        const ports = yield* ClusterPorts
        const everywhere = (yield* Effect.forEach(ports, (p) => keysOn(p, "gw:*"))).map((keys) => keys.length)
        assert.isAtLeast(everywhere.filter((n) => n > 0).length, 2, `keys per master: ${everywhere.join(",")}`)
        // the global bucket (first) refused 2; the endpoint bucket's scripts ran beside it, on
        // another slot, and gave their tokens back: only the admitted requests spent one
        const endpointTokens = Number(yield* tokensInCluster(ports[0]!, "gw:rl2:{ep:/api/v1/market-data}"))
        assert.closeTo(endpointTokens, 1_000 - burst, 0.5, "a refusal took nothing from the later buckets")
      }))
  })
})
