// ioredis clients that fail fast: no offline queue, a short command timeout, endless
// reconnects. A failed command becomes the caller's typed fallback, never a stuck request.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Cluster, Redis, type RedisOptions } from "ioredis"
import { type RedisClient, RedisClients } from "../services/RedisClients.js"

/** Redis commands on the request path give up after this long (SPEC §4: a stall is a failure). */
export const commandTimeoutMs = 250

/** ioredis's rejection of a command that got no answer within commandTimeoutMs. */
export const timedOut = (error: unknown): boolean => error instanceof Error && error.message === "Command timed out"

const options: RedisOptions = {
  enableOfflineQueue: false,
  // commands issued in one event-loop turn, by every request in it, leave in one write
  enableAutoPipelining: true,
  maxRetriesPerRequest: 0,
  commandTimeout: commandTimeoutMs,
  connectTimeout: 2_000,
  retryStrategy: (times) => Math.min(times * 100, 1_000)
}

const hosts = (list: string) =>
  list.split(",").map((h) => {
    const [host = "127.0.0.1", port = "6379"] = h.split(":")
    return { host, port: Number(port) }
  })

// redis:// and rediss:// as ioredis reads them; redis+cluster://h1:p1,h2:p2 for Redis Cluster;
// redis+sentinel://h1:p1,h2:p2/<master name> for Sentinel.
export const openClient = (url: string): RedisClient => {
  const cluster = /^redis\+cluster:\/\/([^/]+)\/?$/.exec(url)
  if (cluster !== null) return new Cluster(hosts(cluster[1]!), { redisOptions: options, enableOfflineQueue: false, enableAutoPipelining: true })
  const sentinel = /^redis\+sentinel:\/\/([^/]+)\/([^/?]+)/.exec(url)
  if (sentinel !== null) return new Redis({ ...options, sentinels: hosts(sentinel[1]!), name: sentinel[2]! })
  return new Redis(url, options)
}

const waitReady = (client: RedisClient) =>
  Effect.async<void>((resume) => {
    if (client.status === "ready") return resume(Effect.void)
    const onReady = () => resume(Effect.void)
    client.once("ready", onReady)
    return Effect.sync(() => void client.off("ready", onReady))
  }).pipe(Effect.timeout("2 seconds"), Effect.option)

export const RedisLive = Layer.scoped(
  RedisClients,
  Effect.gen(function* () {
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
        Effect.suspend(() => {
          let c = clients.get(url)
          if (c === undefined) {
            c = openClient(url)
            // the callers count and log failures; this keeps ioredis from an unhandled 'error'
            c.on("error", () => {})
            clients.set(url, c)
          }
          return Effect.as(waitReady(c), c)
        })
    })
  })
)
