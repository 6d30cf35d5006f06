// The span processor of the OTLP exporter: each span is written as OTLP JSON the moment it
// ends, into the bytes of the batch being gathered, and no longer kept as objects until its
// batch is exported (the SDK's BatchSpanProcessor did that). At a sample ratio of 1.0 the kept
// spans outlived scavenges and were promoted: in 10 s of load the old generation grew from 20
// to 53 MB between eight full collections, and a scavenge took 1.04 ms against 0.66 untraced;
// and a batch's serialization, 512 spans at once, read strings made many requests before.
// The bounds are the SDK processor's: a batch goes when it holds `maxExportBatchSize` spans or
// `scheduledDelayMillis` after its first span, one export at a time; at most `maxQueueSize`
// spans wait (in batches not yet handed to the exporter), later ones are dropped, counted in a
// diag warning as the SDK does; forceFlush and shutdown export everything that waits.
import { diag } from "@opentelemetry/api"
import { type ExportResult, ExportResultCode, globalErrorHandler } from "@opentelemetry/core"
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { singleScopeHead, singleScopeTail, spanJson } from "./OtlpJson.js"

/** An ExportTraceServiceRequest's UTF-8 bytes, and how many spans it holds. */
export interface SpanBatch {
  readonly body: Buffer
  readonly spans: number
}

/** A batch with the whole buffer its body is the start of, reused once its export is done. */
interface ClosedBatch extends SpanBatch {
  readonly buffer: Buffer
}

export interface BatchExporter {
  readonly export: (batch: SpanBatch, done: (result: ExportResult) => void) => void
  readonly shutdown: () => Promise<void>
}

export interface SpanBatchOptions {
  readonly maxExportBatchSize: number
  readonly maxQueueSize: number
  readonly scheduledDelayMillis: number
  /** The batch delay's timer; tests pass their own. */
  readonly setTimer?: (f: () => void, ms: number) => () => void
}

const realTimer = (f: () => void, ms: number): () => void => {
  const t = setTimeout(f, ms)
  t.unref() // a batch waiting for its delay does not keep the process alive; shutdown flushes it
  return () => clearTimeout(t)
}

/** One batch's bytes: its head written when it starts, spans appended, its tail when it closes. */
class Gathering {
  buf: Buffer
  used = 0
  spans = 0
  constructor(readonly resource: ReadableSpan["resource"], readonly scope: ReadableSpan["instrumentationScope"], buf: Buffer) {
    this.buf = buf
    this.write(singleScopeHead(resource, scope))
  }

  write(text: string): void {
    if (text.length * 3 > this.buf.length - this.used) { // UTF-8 takes at most 3 bytes per UTF-16 unit
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.used + text.length * 3))
      this.buf.copy(bigger, 0, 0, this.used)
      this.buf = bigger
    }
    this.used += this.buf.write(text, this.used)
  }

  add(span: ReadableSpan): void {
    this.write(this.spans++ === 0 ? spanJson(span) : `,${spanJson(span)}`)
  }

  close(): ClosedBatch {
    this.write(singleScopeTail(this.resource, this.scope))
    return { body: this.buf.subarray(0, this.used), spans: this.spans, buffer: this.buf }
  }
}

export class SpanBatchProcessor implements SpanProcessor {
  private readonly ready: Array<ClosedBatch> = []
  // buffers of exported batches, for the next ones: with a new ~300 KB buffer a batch (external
  // memory, which V8 answers with full collections) 10 s of load at 1.0 took 30–34 full
  // collections; reused, none
  private readonly spare: Array<Buffer> = []
  private gathering: Gathering | undefined
  private waiting = 0 // spans in `ready` and `gathering`
  private exporting = false
  private dropped = 0
  private cancelTimer: (() => void) | undefined
  private flushed: Array<() => void> = []
  private shutdownOnce: Promise<void> | undefined
  private lastBytes = 64 * 1024 // a new buffer is sized from the last batch, so it seldom grows
  private readonly setTimer: (f: () => void, ms: number) => () => void

  constructor(private readonly exporter: BatchExporter, private readonly options: SpanBatchOptions) {
    this.setTimer = options.setTimer ?? realTimer
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.shutdownOnce !== undefined || (span.spanContext().traceFlags & 1) === 0) return
    if (this.waiting >= this.options.maxQueueSize) {
      if (this.dropped++ === 0) diag.debug("maxQueueSize reached, dropping spans")
      return
    }
    if (this.dropped > 0) {
      diag.warn(`Dropped ${this.dropped} spans because maxQueueSize reached`)
      this.dropped = 0
    }
    let g = this.gathering
    if (g !== undefined && (g.resource !== span.resource || g.scope !== span.instrumentationScope)) {
      this.close() // a span of another resource or scope (the gateway has one of each) starts a batch of its own
      g = undefined
    }
    if (g === undefined) {
      g = this.gathering = new Gathering(span.resource, span.instrumentationScope, this.spare.pop() ?? Buffer.allocUnsafeSlow(Math.ceil(this.lastBytes * 1.25)))
      this.cancelTimer = this.setTimer(() => {
        this.cancelTimer = undefined
        this.close()
        this.next()
      }, this.options.scheduledDelayMillis)
    }
    g.add(span)
    this.waiting++
    if (g.spans >= this.options.maxExportBatchSize) {
      this.close()
      this.next()
    }
  }

  /** The gathering batch, if any, joins the ready ones. */
  private close(): void {
    const g = this.gathering
    if (g === undefined) return
    this.gathering = undefined
    this.cancelTimer?.()
    this.cancelTimer = undefined
    const batch = g.close()
    this.lastBytes = batch.body.length
    this.ready.push(batch)
  }

  /** Hands the oldest ready batch to the exporter unless an export is under way. */
  private next(): void {
    if (this.exporting) return
    const batch = this.ready.shift()
    if (batch === undefined) {
      for (const done of this.flushed.splice(0)) done() // spans that ended after a flush began are not its own
      return
    }
    this.exporting = true
    this.waiting -= batch.spans
    this.exporter.export(batch, (result) => {
      this.exporting = false
      // the transport is done with the body (sent, failed or timed out, its request destroyed)
      if (this.spare.length < 2) this.spare.push(batch.buffer)
      if (result.code !== ExportResultCode.SUCCESS) globalErrorHandler(result.error ?? new Error("span export failed"))
      this.next()
    })
  }

  /** Exports every span that waits; resolves when the last of them has been exported (or failed). */
  forceFlush(): Promise<void> {
    return new Promise((done) => {
      this.close()
      this.flushed.push(done)
      this.next()
    })
  }

  shutdown(): Promise<void> {
    this.shutdownOnce ??= this.forceFlush().then(() => this.exporter.shutdown())
    return this.shutdownOnce
  }
}
