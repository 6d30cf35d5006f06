import * as Context from "effect/Context"

export type Attributes = Readonly<Record<string, string | number | boolean>>

export interface ChildSpan {
  readonly spanId: string
  readonly end: (error?: string) => void
}

/** The spans of one sampled request. */
export interface RequestTrace {
  readonly traceId: string
  readonly child: (name: string, attributes?: Attributes) => ChildSpan
  readonly end: (status: number, route: string | undefined, attributes?: Attributes) => void
}

export interface TraceStart {
  readonly method: string
  /** `performance.now()` when the request arrived: the server span's start. */
  readonly startedAt: number
  readonly traceparent: string | Array<string> | undefined
  /** Built only for a sampled request; a fresh object, which the server span keeps and adds to. */
  readonly attributes: () => Attributes
}

export class Tracing extends Context.Tag("gateway/Tracing")<
  Tracing,
  {
    /**
     * The sampling decision comes first (PERFORMANCE.md): only a sampled request gets span
     * objects; undefined otherwise, and always when tracing is off.
     */
    readonly start: (request: TraceStart) => RequestTrace | undefined
    /** False when tracing is off: the handler then builds no TraceStart at all. */
    readonly enabled: boolean
  }
>() {}
