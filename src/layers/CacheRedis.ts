// The cache in Redis (SPEC §4): one GET per lookup, one SET with PX per store. A failed or
// stalled Redis is bypassed (requests still succeed), said once, counted, and tried again
// after a second, so caching resumes by itself.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Cluster, type Redis } from "ioredis"
import { type Bypass, Cache, type CachedResponse } from "../services/Cache.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Metrics } from "../services/Metrics.js"
import { RedisClients } from "../services/RedisClients.js"
import { timedOut } from "./RedisLive.js"

/** [4-byte head length][head JSON][body]: the body stays binary. */
export const encodeEntry = (e: CachedResponse): Buffer => {
  const head = Buffer.from(JSON.stringify({ status: e.status, headers: e.headers, storedAt: e.storedAt }))
  const size = Buffer.alloc(4)
  size.writeUInt32BE(head.length)
  return Buffer.concat([size, head, e.body])
}

export const decodeEntry = (b: Buffer): CachedResponse | undefined => {
  if (b.length < 4) return undefined
  const n = b.readUInt32BE(0)
  try {
    const head = JSON.parse(b.subarray(4, 4 + n).toString()) as Omit<CachedResponse, "body">
    return { ...head, body: b.subarray(4 + n) }
  } catch {
    return undefined // an entry this version cannot read is a miss
  }
}

const coolDownMs = 1_000

export const CacheRedis = Layer.effect(
  Cache,
  Effect.gen(function* () {
    const { config } = yield* (yield* GatewayConfig).current
    const metrics = yield* Metrics
    const clock = yield* Effect.clock
    const client = yield* (yield* RedisClients).client(config.cache.redis_url!)
    let failedAt: number | undefined
    let announced = false

    const call = <A>(command: () => Promise<A>): Effect.Effect<A, Bypass> =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        if (failedAt !== undefined && now - failedAt < coolDownMs) {
          metrics.cacheBypass.inc({ reason: "cooling_down" })
          return Effect.fail<Bypass>({ _tag: "Bypass", reason: "cooling_down" })
        }
        // ioredis times every command out after commandTimeoutMs: no timer of our own per lookup
        return Effect.tryPromise({ try: command, catch: (error): Bypass => ({ _tag: "Bypass", reason: timedOut(error) ? "timeout" : "redis_error" }) }).pipe(
          Effect.tap(() =>
            Effect.suspend(() => {
              if (failedAt === undefined) return Effect.void
              failedAt = undefined
              announced = false
              return Effect.logInfo("Redis answers again: caching resumed")
            })
          ),
          Effect.tapError((bypass) =>
            Effect.suspend(() => {
              failedAt = clock.unsafeCurrentTimeMillis()
              metrics.cacheBypass.inc({ reason: bypass.reason })
              metrics.redisErrors.inc({ component: "cache" })
              if (announced) return Effect.void
              announced = true
              return Effect.logWarning("Redis unavailable: the cache is bypassed").pipe(Effect.annotateLogs({ reason: bypass.reason }))
            })
          )
        )
      })

    return Cache.of({
      lookup: (key) => Effect.map(call(() => client.getBuffer(key)), (b) => (b === null ? undefined : decodeEntry(b))),
      store: (key, entry, ttlMs) => Effect.asVoid(call(() => client.set(key, encodeEntry(entry), "PX", Math.max(1, Math.round(ttlMs))))),
      purge: (prefix) =>
        call(async () => {
          // in Redis Cluster every master holds some of the keys: scan each, delete one by one
          const nodes: ReadonlyArray<Redis> = client instanceof Cluster ? client.nodes("master") : [client]
          let removed = 0
          for (const node of nodes) {
            let cursor = "0"
            do {
              const [next, keys] = await node.scan(cursor, "MATCH", `gw:cache:v1:${prefix}:*`, "COUNT", 500)
              cursor = next
              for (const key of keys) removed += await node.del(key)
            } while (cursor !== "0")
          }
          return removed
        }),
      describe: Effect.sync(() => ({ store: "redis" as const, entries: undefined, reachable: client.status === "ready" && failedAt === undefined }))
    })
  })
)
