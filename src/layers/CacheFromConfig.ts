import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { CacheMemory } from "./CacheMemory.js"
import { CacheRedis } from "./CacheRedis.js"

// the store and its Redis URL need a restart (SPEC §1): chosen once, at start
export const CacheFromConfig = Layer.unwrapEffect(
  Effect.map(Effect.flatMap(GatewayConfig, (c) => c.current), ({ config }) =>
    config.cache.redis_url === undefined ? CacheMemory : CacheRedis)
)
