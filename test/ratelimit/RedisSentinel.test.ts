// Redis Sentinel (SPEC §7, issue 10 item 9): the Redis rate limiter and cache through a real
// Sentinel started by the test on loopback ports (a master, its replica, one sentinel), as
// production runs it: passwords on the data nodes and on the sentinel, a database other than
// 0. When the master dies, Sentinel promotes the replica; the gateway answers from its local
// buckets meanwhile, then finds the new master through Sentinel and goes on with what was
// replicated.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFile } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { freePort, startBackend } from "../support/HttpBackend.js"
import { eventually, realTime, send } from "../support/HttpClient.js"
import { metricAt } from "../support/RateGateway.js"
import { killProcess, redisRateLimits, spawnRedisServer, untilPing } from "../support/RedisHarness.js"
import { gatewayUrl, makeTestGateway } from "../support/TestGateway.js"

const run = promisify(execFile)

interface Sentinel {
  readonly masterPort: number
  readonly replicaPort: number
  readonly sentinelPort: number
  /** SIGKILL to the master, waiting for it to exit. */
  readonly killMaster: Effect.Effect<void>
}
class SentinelTopology extends Context.Tag("test/SentinelTopology")<SentinelTopology, Sentinel>() {}

const dataPassword = "data-pw"
const sentinelPassword = "sentinel-pw"
const db = 3

const redisCli = (port: number, args: ReadonlyArray<string>) =>
  Effect.promise(() => run("redis-cli", ["-p", String(port), "--no-auth-warning", ...args])).pipe(Effect.map(({ stdout }) => stdout.trim()))
/** A command to the sentinel. */
const cli = (port: number, ...args: ReadonlyArray<string>) => redisCli(port, ["-a", sentinelPassword, ...args])
/** A command to a data node, on the gateway's database. */
const data = (port: number, ...args: ReadonlyArray<string>) => redisCli(port, ["-a", dataPassword, "-n", String(db), ...args])

/** The master's address as Sentinel gives it to clients: its port. */
const masterPortOf = (sentinelPort: number) =>
  Effect.map(cli(sentinelPort, "sentinel", "get-master-addr-by-name", "mymaster"), (out) => Number(out.split("\n").at(-1)))

const sentinel = Effect.acquireRelease(
  Effect.gen(function* () {
    const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "gateway-redis-sentinel-")))
    const [masterPort, replicaPort, sentinelPort] = [yield* freePort, yield* freePort, yield* freePort]
    const common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--requirepass", dataPassword, "--masterauth", dataPassword]
    const master = spawnRedisServer(["--port", String(masterPort), ...common])
    const replica = spawnRedisServer(["--port", String(replicaPort), ...common, "--replicaof", "127.0.0.1", String(masterPort)])
    yield* untilPing(masterPort, { password: dataPassword }, 10_000)
    yield* untilPing(replicaPort, { password: dataPassword }, 10_000)
    // Sentinel rewrites its config file: one of the test's own; a master is down after 1 s
    const conf = join(dir, "sentinel.conf")
    yield* Effect.promise(() =>
      writeFile(conf, [
        `port ${sentinelPort}`, "bind 127.0.0.1", `dir ${dir}`,
        `requirepass ${sentinelPassword}`,
        `sentinel monitor mymaster 127.0.0.1 ${masterPort} 1`,
        `sentinel auth-pass mymaster ${dataPassword}`,
        "sentinel down-after-milliseconds mymaster 1000",
        "sentinel failover-timeout mymaster 10000", ""
      ].join("\n"))
    )
    const watcher = spawnRedisServer([conf, "--sentinel"])
    yield* untilPing(sentinelPort, { password: sentinelPassword }, 10_000)
    // a failover needs a replica Sentinel knows of and in sync with the master
    yield* eventually(
      Effect.flatMap(
        Effect.all([cli(sentinelPort, "sentinel", "replicas", "mymaster"), data(replicaPort, "info", "replication")]),
        ([replicas, info]) =>
          replicas.includes(String(replicaPort)) && info.includes("master_link_status:up") ? Effect.void : Effect.fail(new Error("replica not seen yet"))
      ),
      { timeoutMs: 20_000, intervalMs: 200 }
    )
    return { dir, processes: [master, replica, watcher], topology: { masterPort, replicaPort, sentinelPort, killMaster: killProcess(master) } }
  }),
  ({ dir, processes }) =>
    Effect.promise(async () => {
      for (const p of processes) p.kill("SIGKILL")
      await rm(dir, { recursive: true, force: true })
    })
)

const gateway = Layer.unwrapScoped(
  Effect.gen(function* () {
    const { topology } = yield* sentinel
    const backend = yield* startBackend()
    const url = `redis+sentinel://:${dataPassword}@127.0.0.1:${topology.sentinelPort}/mymaster/${db}?sentinel_password=${sentinelPassword}`
    return makeTestGateway({
      services: { market_data: { url: backend.url, max_retries: 0 } },
      rate_limit: redisRateLimits(url, {
        // refill too slowly to matter within a test
        endpoints: { "/limited": { requests_per_second: 0.001, burst: 3 }, "/failover": { requests_per_second: 0.001, burst: 2 } }
      }),
      cache: { redis_url: url, rules: { "/api/v1/market-data/symbols": { ttl: "60s", shared: true }, "/api/v1/market-data/ticker": { ttl: "60s", shared: true } } }
    }).pipe(Layer.merge(Layer.succeed(SentinelTopology, topology)))
  })
)

const statuses = (n: number, url: string) => Effect.forEach(Array.from({ length: n }), () => Effect.map(send(url), (r) => r.status))
const fallbackActive = (base: string) => metricAt(base, "api_gateway_rate_limit_fallback_active")
const keysOn = (port: number, pattern: string) => Effect.map(data(port, "--scan", "--pattern", pattern), (out) => out.split("\n").filter((l) => l !== ""))

describe("RedisSentinel", () => {
  layer(gateway, { ...realTime, timeout: 90_000 })((it) => {
    it.effect("limits and caches on the master Sentinel names", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const { masterPort, sentinelPort } = yield* SentinelTopology
        assert.strictEqual(yield* masterPortOf(sentinelPort), masterPort)
        assert.strictEqual((yield* send(`${base}/api/v1/market-data/symbols`)).headers.get("x-cache"), "MISS")
        assert.strictEqual((yield* send(`${base}/api/v1/market-data/symbols`)).headers.get("x-cache"), "HIT", "the entry was stored through Sentinel")
        const limited = yield* statuses(5, `${base}/limited`)
        assert.deepStrictEqual(limited.map((s) => s === 429), [false, false, false, true, true], `statuses: ${limited.join(",")}`)
        assert.strictEqual(yield* fallbackActive(base), 0, "Redis answered: no fallback to local buckets")
        assert.include(yield* keysOn(masterPort, "gw:rl2:*"), "gw:rl2:{ep:/limited}")
        assert.lengthOf(yield* keysOn(masterPort, "gw:cache:v1:/api/v1/market-data/symbols:*"), 1)
      }))

    it.effect("follows Sentinel to the promoted replica when the master dies, serving throughout", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const { killMaster, replicaPort, sentinelPort } = yield* SentinelTopology
        // the /failover bucket is spent on the master, and replicated
        const spent = yield* statuses(3, `${base}/failover`)
        assert.deepStrictEqual(spent.map((s) => s === 429), [false, false, true], `statuses: ${spent.join(",")}`)
        yield* eventually(
          Effect.flatMap(data(replicaPort, "--scan", "--pattern", "gw:rl2:{ep:/failover}"), (out) =>
            out.includes("gw:rl2:{ep:/failover}") ? Effect.void : Effect.fail(new Error("not replicated yet"))),
          { timeoutMs: 5_000, intervalMs: 50 }
        )
        yield* killMaster
        // no master for a few seconds: every request is still answered, from the local buckets
        const during = yield* Effect.forEach(Array.from({ length: 8 }), () =>
          Effect.zipLeft(Effect.map(send(`${base}/api/v1/market-data/ticker/BTC-USD`), (r) => r.status), Effect.sleep("150 millis")))
        assert.isTrue(during.every((s) => s === 200), `statuses without a master: ${during.join(",")}`)
        yield* eventually(
          Effect.flatMap(masterPortOf(sentinelPort), (port) => (port === replicaPort ? Effect.void : Effect.fail(new Error(`master still ${port}`)))),
          { timeoutMs: 20_000, intervalMs: 200 }
        )
        // the gateway finds the new master through Sentinel and leaves its local buckets
        yield* eventually(
          Effect.flatMap(Effect.zipRight(send(`${base}/version`), fallbackActive(base)), (v) => (v === 0 ? Effect.void : Effect.fail(new Error("still in fallback")))),
          { timeoutMs: 20_000, intervalMs: 250 }
        )
        // refused from the promoted replica's copy of the bucket: local buckets would have had
        // two tokens to give
        assert.strictEqual((yield* send(`${base}/failover`)).status, 429)
        // and the cache is written there: a new entry, then a hit on it
        yield* eventually(
          Effect.flatMap(send(`${base}/api/v1/market-data/ticker/ETH-USD`), (r) =>
            r.headers.get("x-cache") === "HIT" ? Effect.void : Effect.fail(new Error(`x-cache ${r.headers.get("x-cache")}`))),
          { timeoutMs: 10_000, intervalMs: 100 }
        )
        assert.isAtLeast((yield* keysOn(replicaPort, "gw:cache:v1:/api/v1/market-data/ticker:*")).length, 1)
      }), 75_000)
  })
})
