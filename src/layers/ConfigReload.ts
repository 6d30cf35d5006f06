// SIGHUP reads the config file again (SPEC §1). The admin API's reload runs the same Effect.
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Metrics } from "../services/Metrics.js"

export const reloadAndReport = Effect.fn("GatewayConfig.reload")(function* (trigger: string) {
  const config = yield* GatewayConfig
  const metrics = yield* Metrics
  const outcome = yield* config.reload
  metrics.configReloads.inc({ result: outcome.result })
  if (outcome.result === "failure") {
    yield* Effect.logError("config reload refused: the running config is kept").pipe(
      Effect.annotateLogs({ trigger, problems: outcome.problems })
    )
    return outcome
  }
  yield* Effect.logInfo("config reloaded").pipe(Effect.annotateLogs({ trigger, file_hash: outcome.snapshot.fileHash }))
  if (outcome.restartNeeded.length > 0) {
    yield* Effect.logWarning("these keys changed but need a restart; their running values are kept").pipe(
      Effect.annotateLogs({ keys: outcome.restartNeeded })
    )
  }
  return outcome
})

export const ReloadOnSignal = Layer.scopedDiscard(
  Effect.gen(function* () {
    const run = yield* FiberSet.makeRuntime<GatewayConfig | Metrics>()
    const onHangup = () => void run(reloadAndReport("SIGHUP"))
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("SIGHUP", onHangup)),
      () => Effect.sync(() => process.off("SIGHUP", onHangup))
    )
  })
)
