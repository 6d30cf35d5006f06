import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

export interface CachedResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string>>>
  readonly body: Buffer
  /** Clock millis when stored, for Age. */
  readonly storedAt: number
}

/** The store failed or stalled: the request goes on uncached (X-Cache: BYPASS). */
export interface Bypass {
  readonly _tag: "Bypass"
  readonly reason: "redis_error" | "timeout" | "cooling_down"
}

export class Cache extends Context.Tag("gateway/Cache")<
  Cache,
  {
    /** The memory store looks up at the call and answers with an Exit; the Redis store's Effect asks Redis when run. */
    readonly lookup: (key: string) => Effect.Effect<CachedResponse | undefined, Bypass>
    readonly store: (key: string, entry: CachedResponse, ttlMs: number) => Effect.Effect<void, Bypass>
    /** Drops the entries of one rule prefix; answers how many. */
    readonly purge: (prefix: string) => Effect.Effect<number, Bypass>
    readonly describe: Effect.Effect<{ readonly store: "memory" | "redis"; readonly entries: number | undefined; readonly reachable: boolean }>
  }
>() {}
