// A finished or running span of a sampled request, as a plain record. The SDK's Tracer and
// Span (context lookups, sampler, id generator, attribute sanitising, HrTime arithmetic on
// every call) cost ~36k instructions a request for the gateway's four spans; these records
// cost a few objects. They implement the SDK's ReadableSpan, so the SDK's BatchSpanProcessor
// batches them and any SDK exporter or serializer reads them (test/tracing/SpanRecord.test.ts
// checks them against the SDK's own JSON serializer).
import { type HrTime, type SpanContext, SpanKind, type SpanStatus, SpanStatusCode, TraceFlags } from "@opentelemetry/api"
import type { InstrumentationScope } from "@opentelemetry/core"
import type { Resource } from "@opentelemetry/resources"
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base"
import type { Attributes, ChildSpan } from "../services/Tracing.js"

/** Where a record's spans go, and what they carry beside their own fields. */
export interface SpanSink {
  readonly resource: Resource
  readonly scope: InstrumentationScope
  readonly onEnd: (span: ReadableSpan) => void
}

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET })
const NONE: Array<never> = []

/** Milliseconds since the epoch now, from the monotonic clock (as the SDK reads time). */
export const epochMillis = (monotonic: number = performance.now()): number => performance.timeOrigin + monotonic

// the last splitMillis's parts: millisNanos reads them without a pair allocated
let splitSeconds = 0
let splitNanos = 0

/** Epoch milliseconds into seconds and nanoseconds, split before scaling (a double holds ~2^53 ns). */
const splitMillis = (ms: number): void => {
  splitSeconds = Math.floor(ms / 1_000)
  splitNanos = Math.round((ms - splitSeconds * 1_000) * 1_000_000)
  if (splitNanos >= 1_000_000_000) {
    splitSeconds += 1
    splitNanos -= 1_000_000_000
  }
}

/** Epoch milliseconds as [seconds, nanoseconds]. */
const split = (ms: number): HrTime => {
  splitMillis(ms)
  return [splitSeconds, splitNanos]
}

// a batch's times fall in a few seconds: the seconds' digits are written once for each
let lastSeconds = -1
let lastDigits = ""

// "0" to "999": a millisecond's and a microsecond's three digits, zero-padded
const threeDigits = Array.from({ length: 1_000 }, (_, n) => String(n).padStart(3, "0"))

/**
 * Epoch milliseconds as OTLP's fixed64 nanoseconds, a decimal string, without a BigInt: the
 * seconds' digits made once a second, the nine below them from a table of three-digit groups
 * (no pair allocated, no number converted: 8 times a request at a sample ratio of 1.0).
 */
export const millisNanos = (ms: number): string => {
  splitMillis(ms)
  const seconds = splitSeconds
  const nanos = splitNanos
  if (seconds === 0) return String(nanos)
  if (seconds !== lastSeconds) {
    lastSeconds = seconds
    lastDigits = String(seconds)
  }
  const micros = Math.floor(nanos / 1_000)
  const millis = Math.floor(micros / 1_000)
  return lastDigits + threeDigits[millis]! + threeDigits[micros - millis * 1_000]! + threeDigits[nanos - micros * 1_000]!
}

export class SpanRecord implements ReadableSpan, ChildSpan {
  readonly kind: SpanKind
  readonly attributes: Record<string, string | number | boolean>
  readonly links = NONE
  readonly events: Array<TimedEvent> = NONE
  readonly droppedAttributesCount = 0
  readonly droppedEventsCount = 0
  readonly droppedLinksCount = 0
  readonly resource: Resource
  readonly instrumentationScope: InstrumentationScope
  readonly parentSpanContext?: SpanContext
  name: string
  status: SpanStatus = UNSET
  ended = false
  endMs = 0
  private readonly context: SpanContext

  constructor(
    private readonly sink: SpanSink,
    name: string,
    kind: SpanKind,
    traceId: string,
    spanId: string,
    parent: SpanContext | undefined,
    readonly startMs: number,
    attributes: Attributes | undefined
  ) {
    this.name = name
    this.kind = kind
    this.context = { traceId, spanId, traceFlags: TraceFlags.SAMPLED } // only sampled requests get records
    if (parent !== undefined) this.parentSpanContext = parent
    this.attributes = attributes === undefined ? {} : (attributes as Record<string, string | number | boolean>) // the caller's fresh object, kept
    this.resource = sink.resource
    this.instrumentationScope = sink.scope
  }

  spanContext(): SpanContext {
    return this.context
  }

  get spanId(): string {
    return this.context.spanId
  }

  get startTime(): HrTime {
    return split(this.startMs)
  }

  get endTime(): HrTime {
    return split(this.endMs)
  }

  get duration(): HrTime {
    return split(this.endMs - this.startMs)
  }

  /** An error status with its message (OK is never set by the gateway: unset means fine). */
  fail(message: string | undefined): void {
    this.status = message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message }
  }

  /** A step's or an attempt's end: with a reason, its failure (ChildSpan). */
  end(error?: string): void {
    if (this.ended) return
    if (error !== undefined) this.fail(error)
    this.finish()
  }

  /** Ends the span once and hands it to the sink; later calls change nothing. */
  finish(atMs: number = epochMillis()): void {
    if (this.ended) return
    this.ended = true
    this.endMs = Math.max(atMs, this.startMs)
    this.sink.onEnd(this)
  }
}
