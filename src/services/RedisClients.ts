import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { Cluster, Redis } from "ioredis"

export type RedisClient = Redis | Cluster

/** One ioredis client per URL, shared by the rate limiter and the cache, closed at shutdown. */
export class RedisClients extends Context.Tag("gateway/RedisClients")<
  RedisClients,
  {
    /** The client for `url`, waiting up to 2 s for it to be ready; it serves either way (SPEC §4). */
    readonly client: (url: string) => Effect.Effect<RedisClient>
  }
>() {}
