// The cache in Redis (SPEC §4): one GET per lookup, one SET with PX per store. A failed or
// stalled Redis is bypassed (requests still succeed), said once, counted, and tried again
// after a second, so caching resumes by itself.
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type { Cluster, Redis } from "ioredis"
import { callback } from "../http/Eager.js"
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

    const coolingDown = (): Bypass | undefined => {
      if (failedAt === undefined || clock.unsafeCurrentTimeMillis() - failedAt >= coolDownMs) return undefined
      metrics.cacheBypass.inc({ reason: "cooling_down" })
      return { _tag: "Bypass", reason: "cooling_down" }
    }
    const succeeded = <A>(value: A): Effect.Effect<A> => {
      if (failedAt === undefined) return Exit.succeed(value)
      failedAt = undefined
      announced = false
      return Effect.as(Effect.logInfo("Redis answers again: caching resumed"), value)
    }
    const failed = (error: unknown): Effect.Effect<never, Bypass> => {
      const bypass: Bypass = { _tag: "Bypass", reason: timedOut(error) ? "timeout" : "redis_error" }
      failedAt = clock.unsafeCurrentTimeMillis()
      metrics.cacheBypass.inc({ reason: bypass.reason })
      metrics.redisErrors.inc({ component: "cache" })
      if (announced) return Exit.fail(bypass)
      announced = true
      return Effect.zipRight(Effect.logWarning("Redis unavailable: the cache is bypassed").pipe(Effect.annotateLogs({ reason: bypass.reason })), Effect.fail(bypass))
    }
    // A callback step (Eager.ts): a lookup's reply goes on in ioredis's callback, with no fiber
    // held across the round trip. ioredis times every command out after commandTimeoutMs: no
    // timer of our own per lookup.
    const call = <A>(command: () => Promise<A>): Effect.Effect<A, Bypass> =>
      callback((resume) => {
        const cooling = coolingDown()
        if (cooling !== undefined) return resume(Exit.fail(cooling))
        let reply: Promise<A>
        try {
          reply = command()
        } catch (error) {
          return resume(failed(error))
        }
        void reply.then((value) => resume(succeeded(value)), (error: unknown) => resume(failed(error)))
      })

    return Cache.of({
      lookup: (key) => call(() => client.getBuffer(key).then((b) => (b === null ? undefined : decodeEntry(b)))),
      store: (key, entry, ttlMs) => Effect.asVoid(call(() => client.set(key, encodeEntry(entry), "PX", Math.max(1, Math.round(ttlMs))))),
      purge: (prefix) =>
        call(async () => {
          // in Redis Cluster every master holds some of the keys: scan each, delete one by one
          const nodes: ReadonlyArray<Redis> = client.isCluster ? (client as Cluster).nodes("master") : [client as Redis]
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
