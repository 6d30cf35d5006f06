import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AdminListener } from "../services/AdminListener.js"
import { GatewayConfig } from "../services/GatewayConfig.js"

const AdminDisabled = Layer.succeed(AdminListener, AdminListener.of({ address: undefined }))

// admin.* needs a restart (SPEC §1): chosen once, at start. Imported only when enabled: the
// platform HTTP server it runs on costs about half a second of start-up CPU to load.
export const AdminFromConfig = Layer.unwrapEffect(
  Effect.flatMap(Effect.flatMap(GatewayConfig, (c) => c.current), ({ config }) =>
    config.admin.enabled
      ? Effect.map(Effect.promise(() => import("./AdminLive.js")), (m) => m.AdminLive)
      : Effect.succeed(AdminDisabled))
)
