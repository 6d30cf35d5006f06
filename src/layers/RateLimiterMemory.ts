import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { compileRateLimits } from "../domain/RateLimits.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { RateLimiter } from "../services/RateLimiter.js"
import { LocalBuckets } from "./LocalBuckets.js"

// Time via Clock, so TestClock drives refill.
export const RateLimiterMemory = Layer.scoped(
  RateLimiter,
  Effect.gen(function* () {
    const gatewayConfig = yield* GatewayConfig
    const { config } = yield* gatewayConfig.current
    const clock = yield* Effect.clock
    const buckets = new LocalBuckets(config.rate_limit.per_ip.max_tracked)
    yield* gatewayConfig.changes.pipe(
      Stream.runForEach((s) => Effect.sync(() => (buckets.ips.capacity = s.config.rate_limit.per_ip.max_tracked))),
      Effect.forkScoped
    )
    return RateLimiter.of({
      check: (refs) => {
        const result = buckets.check(refs, clock.unsafeCurrentTimeMillis())
        return result instanceof Error ? Exit.fail(result) : Exit.succeed(result)
      },
      stats: Effect.map(gatewayConfig.current, (s) => ({
        store: "memory" as const,
        fallback: false,
        ...buckets.snapshot(compileRateLimits(s.config), clock.unsafeCurrentTimeMillis()),
        topRejected: buckets.rejections.top(20)
      }))
    })
  })
)
