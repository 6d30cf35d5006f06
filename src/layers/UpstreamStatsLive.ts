import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { LatencyWindow } from "../domain/LatencyWindow.js"
import { type ServiceName, serviceNames } from "../domain/ServiceName.js"
import { UpstreamStats } from "../services/UpstreamStats.js"

// Time via Clock, so TestClock moves the window.
export const UpstreamStatsLive = Layer.effect(
  UpstreamStats,
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const startedAt = clock.unsafeCurrentTimeMillis()
    const windows = new Map<ServiceName, LatencyWindow>(serviceNames.map((s) => [s, new LatencyWindow()]))
    return UpstreamStats.of({
      record: (service, status, seconds) =>
        windows.get(service)?.record(clock.unsafeCurrentTimeMillis(), seconds * 1000, status === "error" || Number(status) >= 500),
      lastMinute: Effect.sync(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const windowSeconds = Math.min(60, Math.max(1, Math.ceil((now - startedAt) / 1000)))
        return serviceNames.map((service) => ({ service, windowSeconds, ...windows.get(service)!.summary(now) }))
      })
    })
  })
)
