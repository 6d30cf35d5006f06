import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { LruMap } from "../domain/LruMap.js"
import { Cache, type CachedResponse } from "../services/Cache.js"
import { GatewayConfig } from "../services/GatewayConfig.js"

// An LRU of cache.max_entries; expiry read through Clock, so TestClock drives TTLs.
export const CacheMemory = Layer.scoped(
  Cache,
  Effect.gen(function* () {
    const gatewayConfig = yield* GatewayConfig
    const { config } = yield* gatewayConfig.current
    const clock = yield* Effect.clock
    const entries = new LruMap<string, { readonly entry: CachedResponse; readonly expiresAt: number }>(config.cache.max_entries)
    yield* gatewayConfig.changes.pipe(
      Stream.runForEach((s) => Effect.sync(() => (entries.capacity = s.config.cache.max_entries))),
      Effect.forkScoped
    )
    return Cache.of({
      // settled at the call: an Exit, so the checks need no fiber (Eager.ts)
      lookup: (key) => {
        const found = entries.get(key)
        if (found === undefined) return Exit.succeed(undefined)
        if (found.expiresAt > clock.unsafeCurrentTimeMillis()) return Exit.succeed(found.entry)
        entries.delete(key)
        return Exit.succeed(undefined)
      },
      store: (key, entry, ttlMs) => Effect.sync(() => entries.set(key, { entry, expiresAt: clock.unsafeCurrentTimeMillis() + ttlMs })),
      purge: (prefix) =>
        Effect.sync(() => {
          const start = `gw:cache:v1:${prefix}:`
          let n = 0
          for (const [key] of [...entries.entries()]) if (key.startsWith(start) && entries.delete(key)) n++
          return n
        }),
      describe: Effect.sync(() => ({ store: "memory" as const, entries: entries.size, reachable: true }))
    })
  })
)
