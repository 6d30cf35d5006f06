// The worker side of server.workers > 1: drains on the primary's shutdown message, as on
// SIGTERM (once, whichever comes first).
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import cluster from "node:cluster"
import { Lifecycle } from "../services/Lifecycle.js"
import { shutdownMessage } from "./ClusterPrimary.js"

export const ClusterWorker = Layer.scopedDiscard(
  Effect.gen(function* () {
    if (!cluster.isWorker) return
    const lifecycle = yield* Lifecycle
    const onMessage = (message: { type?: string }) => {
      if (message?.type === shutdownMessage && !lifecycle.isShuttingDown()) process.kill(process.pid, "SIGTERM")
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("message", onMessage)),
      () => Effect.sync(() => process.off("message", onMessage))
    )
  })
)
