// Real Redis for the rate-limit suites (STYLE 2.9): a probe client on the test's own
// logical database (flushed when the layer starts), gateways on that database, and
// redis-server processes of the test's own for stop/restart faults.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import { type ChildProcess, spawn } from "node:child_process"
import { connect } from "node:net"
import { connect as connectTls } from "node:tls"
import { freePort } from "./HttpBackend.js"
import { eventually } from "./HttpClient.js"
import { merge } from "./TestConfig.js"
import { gatewayUrl, makeTestGateway } from "./TestGateway.js"

/** The test's own client on the gateway's Redis database, to read and change what the gateway stored. */
export class RedisProbe extends Context.Tag("test/RedisProbe")<RedisProbe, Redis>() {}

/** A client on `url` (no offline queue: a stopped server fails its commands at once), disconnected with the scope. */
export const openProbe = (url: string): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => 100 })
      client.on("error", () => {})
      await client.connect()
      return client
    }),
    (client) => Effect.sync(() => client.disconnect())
  )

const flush = (client: Redis) => Effect.promise(() => client.flushdb()).pipe(Effect.timeout("2 seconds"), Effect.ignore)

/**
 * RedisProbe on `url`, its database flushed when the layer starts and again when it ends
 * (after the gateway built on top of it has stopped): the layer to build a gateway on.
 */
export const redisProbeLayer = (url: string) =>
  Layer.scoped(
    RedisProbe,
    Effect.tap(openProbe(url), (client) =>
      Effect.zipRight(Effect.promise(() => client.flushdb()), Effect.addFinalizer(() => flush(client))))
  )

/** `rate_limit` on the Redis at `url`: global and per-IP buckets that never refuse here, `over` merged on top, /metrics exempt. */
export const redisRateLimits = (url: string, over: Record<string, unknown> = {}) =>
  merge({
    enabled: true,
    store: "redis",
    redis_url: url,
    global: { requests_per_second: 1_000, burst: 100_000 },
    per_ip: { requests_per_minute: 60_000, burst: 100_000 },
    exempt_paths: ["/metrics"]
  }, over)

/** The gateway's keys in Redis, sorted. */
export const rateLimitKeys = Effect.flatMap(RedisProbe, (probe) => Effect.promise(() => probe.keys("gw:rl2:*"))).pipe(
  Effect.map((keys) => [...keys].sort())
)

/**
 * A gateway with `config`, built with its own memo map (Layer.fresh), so two of them in one
 * layer share nothing but Redis; `tag` gives its base URL.
 */
export const gatewayInstance = <I>(tag: Context.Tag<I, string>, config: Record<string, unknown>) =>
  Layer.effect(tag, gatewayUrl).pipe(Layer.provide(Layer.fresh(makeTestGateway(config))))

/** A redis-server of the test's own, on one port for its whole life: stop it, start it again. */
export interface OwnRedis {
  readonly port: number
  /** `redis://127.0.0.1:<port>/<db>` */
  readonly url: (db?: number) => string
  /** SIGKILL, waiting for the process to exit. */
  readonly stop: Effect.Effect<void>
  /** A new server on the same port, waiting until it answers PING. */
  readonly start: Effect.Effect<void>
}

/**
 * True when something on `port` answers PING with PONG within `timeoutMs`; with `ca`, over TLS,
 * the server verified against it under the name "localhost"; with `password`, after AUTH.
 */
export const answersPing = (
  port: number,
  options: { readonly ca?: Buffer; readonly password?: string; readonly timeoutMs?: number } = {}
): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = options.ca === undefined
      ? connect(port, "127.0.0.1")
      : connectTls({ host: "127.0.0.1", port, servername: "localhost", ca: options.ca })
    let data = ""
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), options.timeoutMs ?? 500)
    const ping = options.password === undefined ? "PING\r\n" : `AUTH ${options.password}\r\nPING\r\n`
    socket.on(options.ca === undefined ? "connect" : "secureConnect", () => socket.write(ping))
    socket.on("data", (chunk: Buffer) => {
      data += chunk.toString("latin1")
      if (data.includes("+PONG")) done(true)
    })
    socket.on("error", () => done(false))
  })

/** `redis-server` with `args`, its output dropped. */
export const spawnRedisServer = (args: ReadonlyArray<string>): ChildProcess => {
  const child = spawn("redis-server", [...args], { stdio: "ignore" })
  child.on("error", () => {})
  return child
}

const spawnServer = (port: number): ChildProcess => spawnRedisServer(["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])

/** Until the server on `port` answers PING (answersPing's options), for at most `timeoutMs`. */
export const untilPing = (port: number, options: Parameters<typeof answersPing>[1] = {}, timeoutMs = 5_000) =>
  eventually(Effect.flatMap(Effect.promise(() => answersPing(port, options)), (ok) => (ok ? Effect.void : Effect.dieMessage(`no redis-server answers on ${port}`))), {
    timeoutMs,
    intervalMs: 50
  })

/** SIGKILL, waiting (at most 5 s) for the process to exit. */
export const killProcess = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGKILL")
  }).pipe(Effect.timeout("5 seconds"), Effect.orDie)

/**
 * A redis-server of the test's own on a free loopback port, not started yet (nothing
 * listens there until `start`); killed with the scope if it is running.
 */
export const reserveRedisServer: Effect.Effect<OwnRedis, never, Scope.Scope> = Effect.gen(function* () {
  const port = yield* freePort
  let child: ChildProcess | undefined
  const start = Effect.suspend(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) return Effect.dieMessage("redis-server is already running")
    child = spawnServer(port)
    return untilPing(port)
  })
  const stop = Effect.suspend(() => (child === undefined ? Effect.void : killProcess(child)))
  yield* Effect.addFinalizer(() => stop)
  return { port, url: (db = 0) => `redis://127.0.0.1:${port}/${db}`, stop, start }
})

/** A redis-server of the test's own on a free loopback port, running when this returns. */
export const ownRedisServer: Effect.Effect<OwnRedis, never, Scope.Scope> = Effect.tap(reserveRedisServer, (redis) => redis.start)

/** The OwnRedis a layer started, for the tests that stop and start it. */
export class OwnRedisServer extends Context.Tag("test/OwnRedisServer")<OwnRedisServer, OwnRedis>() {}
