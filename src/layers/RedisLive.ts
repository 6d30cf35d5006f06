// ioredis clients that fail fast: no offline queue, a short command timeout, endless
// reconnects. A failed command becomes the caller's typed fallback, never a stuck request.
// ioredis is loaded when the first client is opened: a gateway on the memory stores (the
// default) does not evaluate it at start-up (with its Cluster, ~3.5 % of a start's CPU profile).
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type { Redis, RedisOptions } from "ioredis"
import type { Socket } from "node:net"
import { redactUrl } from "../domain/RedactConfig.js"
import { parseRedisUrl } from "../domain/RedisUrl.js"
import { type RedisClient, RedisClients } from "../services/RedisClients.js"

/** Redis commands on the request path give up after this long (SPEC §4: a stall is a failure). */
export const commandTimeoutMs = 250

/** ioredis's rejection of a command that got no answer within commandTimeoutMs. */
export const timedOut = (error: unknown): boolean => error instanceof Error && error.message === "Command timed out"

const options: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: commandTimeoutMs,
  connectTimeout: 2_000,
  retryStrategy: (times) => Math.min(times * 100, 1_000)
}

/**
 * A client whose commands of one event-loop turn, from every request of it, leave in one
 * write: its socket is corked at the turn's first command and uncorked when the turn ends
 * (setImmediate, as ioredis's auto-pipelining schedules its batches). Auto-pipelining batches
 * the same way but keeps one batch in flight at a time, so a turn's commands waited for the
 * previous batch's replies before they were written: each request lived a round trip longer,
 * and ~5× more of its objects outlived the young generation (docs/performance-log.md). Corked,
 * every command is written in its own turn and ioredis's own command path is unchanged.
 */
const turnBatched = (Base: typeof import("ioredis").Redis) =>
  class TurnBatchedRedis extends Base {
    private corked = false

    override sendCommand(...args: Parameters<Redis["sendCommand"]>): unknown {
      const socket = this.stream as Socket | undefined
      if (!this.corked && socket !== undefined && socket.writable) {
        this.corked = true
        socket.cork()
        setImmediate(() => {
          this.corked = false
          socket.uncork() // the socket corked, even if a reconnect has replaced it since
        })
      }
      return super.sendCommand(...args)
    }
  }

let loaded: { readonly Cluster: typeof import("ioredis").Cluster; readonly TurnBatchedRedis: ReturnType<typeof turnBatched> } | undefined

/** ioredis, loaded once; openClient needs it loaded. */
export const loadIoredis = async (): Promise<void> => {
  if (loaded !== undefined) return
  const { Redis, Cluster } = await import("ioredis")
  loaded ??= { Cluster, TurnBatchedRedis: turnBatched(Redis) }
}

// the URL forms of ../domain/RedisUrl.ts; the config's schema has refused any other
export const openClient = (url: string): RedisClient => {
  if (loaded === undefined) throw new Error("openClient before loadIoredis")
  const { Cluster, TurnBatchedRedis } = loaded
  const target = parseRedisUrl(url)
  if (typeof target === "string") throw new Error(`not a Redis URL: ${target}`)
  switch (target._tag) {
    case "Single":
      return new TurnBatchedRedis(url, options)
    case "Cluster":
      // a Cluster has a connection per node: its commands of one turn go in one write per node
      // through ioredis's auto-pipelining (one batch in flight per node)
      return new Cluster([...target.nodes], {
        redisOptions: { ...options, username: target.username, password: target.password },
        enableOfflineQueue: false,
        enableAutoPipelining: true
      })
    case "Sentinel":
      return new TurnBatchedRedis({
        ...options,
        sentinels: [...target.sentinels],
        name: target.name,
        db: target.db,
        username: target.username,
        password: target.password,
        sentinelUsername: target.sentinelUsername,
        sentinelPassword: target.sentinelPassword
      })
  }
}

const waitReady = (client: RedisClient) =>
  Effect.async<void>((resume) => {
    if (client.status === "ready") return resume(Effect.void)
    const onReady = () => resume(Effect.void)
    client.once("ready", onReady)
    return Effect.sync(() => void client.off("ready", onReady))
  }).pipe(Effect.timeout("2 seconds"), Effect.option)

/**
 * Why a client cannot connect (refused, a certificate it cannot verify, a wrong password…), said
 * once per streak of the same error, and when it is ready again: the stores' own warnings only
 * say that Redis is unavailable, and ioredis retries every second.
 */
const reportConnection = (client: RedisClient, url: string, log: (effect: Effect.Effect<void>) => void) => {
  const redis = redactUrl(url)
  let failing: string | undefined
  client.on("error", (error: Error) => {
    const reason = error.message || String(error)
    if (reason === failing) return
    failing = reason
    log(Effect.logWarning("Redis connection failed").pipe(Effect.annotateLogs({ redis, error: reason })))
  })
  client.on("ready", () => {
    if (failing === undefined) return
    failing = undefined
    log(Effect.logInfo("Redis connection ready").pipe(Effect.annotateLogs({ redis })))
  })
}

export const RedisLive = Layer.scoped(
  RedisClients,
  Effect.gen(function* () {
    const log = Runtime.runFork(yield* Effect.runtime<never>())
    const clients = new Map<string, RedisClient>()
    yield* Effect.addFinalizer(() =>
      Effect.forEach([...clients.values()], (c) =>
        Effect.tryPromise(() => c.quit()).pipe(
          Effect.timeout("2 seconds"),
          Effect.orElse(() => Effect.sync(() => c.disconnect())) // shutdown must not hang
        ), { concurrency: "unbounded", discard: true })
    )
    return RedisClients.of({
      client: (url) =>
        Effect.zipRight(Effect.promise(loadIoredis), Effect.suspend(() => {
          let c = clients.get(url)
          if (c === undefined) {
            c = openClient(url)
            // also keeps ioredis from an unhandled 'error'; the callers count their failed commands
            reportConnection(c, url, log)
            clients.set(url, c)
          }
          return Effect.as(waitReady(c), c)
        }))
    })
  })
)
