import * as Context from "effect/Context"

export type Level = "debug" | "info" | "warn" | "error"

export type Fields = Readonly<Record<string, unknown>>

/**
 * Where log lines go (stdout, stderr or a rotating file) and in which format. Effect's
 * Logger writes through it, and so does the access log, which skips the fiber because it
 * runs after the response, outside any Effect (PERFORMANCE.md).
 */
export class LogSink extends Context.Tag("gateway/LogSink")<
  LogSink,
  {
    readonly enabled: (level: Level) => boolean
    readonly write: (level: Level, message: string, fields: Fields) => void
    readonly setLevel: (level: Level) => void
    readonly flush: () => void
  }
>() {}
