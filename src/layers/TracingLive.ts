import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Tracing } from "../services/Tracing.js"

export const TracingDisabled = Layer.succeed(Tracing, Tracing.of({ start: () => undefined, enabled: false }))

// tracing.* needs a restart (SPEC §1): the exporter is chosen once. The OpenTelemetry SDK is
// imported only when tracing is on: loading it costs start-up CPU for nothing otherwise.
export const TracingLive = Layer.unwrapEffect(
  Effect.flatMap(Effect.flatMap(GatewayConfig, (c) => c.current), ({ config }) => {
    const endpoint = config.tracing.endpoint
    if (!config.features.enable_tracing || endpoint === undefined) return Effect.succeed(TracingDisabled)
    return Effect.map(Effect.promise(() => import("./TracingOtel.js")), (m) => m.tracingOtel(endpoint, config.tracing.service_name))
  })
)
