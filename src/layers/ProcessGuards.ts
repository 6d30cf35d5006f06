import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { LogSink } from "../services/LogSink.js"

// SPEC §6 / issue 9: a stray rejection or exception is logged, and the process keeps serving.
export const ProcessGuards = Layer.scopedDiscard(
  Effect.gen(function* () {
    const sink = yield* LogSink
    const report = (kind: string) => (error: unknown) =>
      sink.write("error", kind, { error: error instanceof Error ? error.stack ?? error.message : String(error) })
    const onRejection = report("unhandled promise rejection")
    const onException = report("uncaught exception")
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("unhandledRejection", onRejection)
        process.on("uncaughtException", onException)
      }),
      () => Effect.sync(() => {
        process.off("unhandledRejection", onRejection)
        process.off("uncaughtException", onException)
      })
    )
  })
)
