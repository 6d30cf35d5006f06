import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { RateLimiter } from "../services/RateLimiter.js"
import { LocalBuckets } from "./LocalBuckets.js"

// Time via Clock, so TestClock drives refill.
export const RateLimiterMemory = Layer.effect(
  RateLimiter,
  Effect.gen(function* () {
    const { config } = yield* (yield* GatewayConfig).current
    const clock = yield* Effect.clock
    const buckets = new LocalBuckets(config.rate_limit.per_ip.max_tracked)
    return RateLimiter.of({
      isSynchronous: true,
      check: (refs) => {
        const result = buckets.check(refs, clock.unsafeCurrentTimeMillis())
        return result instanceof Error ? Effect.fail(result) : Effect.succeed(result)
      }
    })
  })
)
