import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { type Level, LogSink } from "../services/LogSink.js"

const levelOf = (level: LogLevel.LogLevel): Level =>
  level._tag === "Error" || level._tag === "Fatal" ? "error" : level._tag === "Warning" ? "warn" : level._tag === "Info" ? "info" : "debug"

/** Effect's Logger, writing JSON (or console) lines through the LogSink. */
export const LoggerLive = Layer.unwrapEffect(
  Effect.map(LogSink, (sink) => {
    const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
      const level = levelOf(logLevel)
      if (!sink.enabled(level)) return
      const fields: Record<string, unknown> = {}
      for (const [key, value] of HashMap.toEntries(annotations)) fields[key] = value
      if (!Cause.isEmpty(cause)) fields.error = Cause.pretty(cause, { renderErrorCause: true })
      const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
      sink.write(level, text, fields)
    })
    // failures of the per-request checks are answered, not "unhandled": Effect must not log them
    return Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, logger),
      Logger.minimumLogLevel(LogLevel.Debug),
      Layer.setUnhandledErrorLogLevel(Option.none())
    )
  })
)
