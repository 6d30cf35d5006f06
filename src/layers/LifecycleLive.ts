import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Lifecycle } from "../services/Lifecycle.js"

export const LifecycleLive = Layer.effect(
  Lifecycle,
  Effect.sync(() => {
    let draining = false
    return Lifecycle.of({
      isShuttingDown: () => draining,
      beginShutdown: () => {
        draining = true
      }
    })
  })
)
