import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { accessMessage, type Fields, type Level, LogSink } from "../../src/services/LogSink.js"

export interface Captured {
  readonly level: Level
  readonly message: string
  readonly fields: Fields
}

/** The lines a test's gateway logged, as the JSON sink would have written them. */
export class CapturedLogs extends Context.Tag("test/CapturedLogs")<CapturedLogs, Array<Captured>>() {}

export const CapturingSink = Layer.effectContext(
  Effect.sync(() => {
    const lines: Array<Captured> = []
    const sink = LogSink.of({
      enabled: () => true,
      write: (level, message, fields) => void lines.push({ level, message, fields }),
      access: (line) => void lines.push({ level: "info", message: accessMessage, fields: line }),
      setLevel: () => {},
      flush: () => {}
    })
    return Context.make(LogSink, sink).pipe(Context.add(CapturedLogs, lines))
  })
)
