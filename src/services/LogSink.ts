import * as Context from "effect/Context"

export type Level = "debug" | "info" | "warn" | "error"

export type Fields = Readonly<Record<string, unknown>>

/**
 * One access log line (SPEC §5): the seed's fields, then trace_id and caller; a request node's
 * parser refused before any handler carries refused_by instead. Both kinds keep these keys in
 * this order.
 */
export type AccessLine = {
  readonly request_id: string
  readonly method: string | undefined
  readonly path: string | undefined
  readonly route: string
  readonly query: string
  readonly status: number
  readonly duration_ms: number
  readonly client_ip: string
  readonly user_agent: string
  readonly request_size: number
  readonly response_size: number
  readonly trace_id?: string | undefined
  readonly caller?: string | undefined
  readonly refused_by?: string
}

/** The access log's message, at level info. */
export const accessMessage = "HTTP request"

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
    /** write("info", accessMessage, line), with a writer of its own for the line every request logs */
    readonly access: (line: AccessLine) => void
    readonly setLevel: (level: Level) => void
    readonly flush: () => void
  }
>() {}
