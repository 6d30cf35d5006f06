import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { RateLimiterMemory } from "./RateLimiterMemory.js"
import { RateLimiterRedis } from "./RateLimiterRedis.js"

// rate_limit.store needs a restart (SPEC §1): the store is chosen once, at start
export const RateLimiterFromConfig = Layer.unwrapEffect(
  Effect.map(Effect.flatMap(GatewayConfig, (c) => c.current), ({ config }) =>
    config.rate_limit.store === "redis" ? RateLimiterRedis : RateLimiterMemory)
)
