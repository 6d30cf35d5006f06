// SpanBatchProcessor (src/layers/SpanBatches.ts): spans written as JSON when they end, exported
// in batches. Its bodies are checked against the SDK's own JSON serializer of the same spans;
// its bounds (batch size, delay, queue, one export at a time, flush, shutdown) with an exporter
// that answers when the test says and a timer the test fires.
import { SpanKind } from "@opentelemetry/api"
import { type ExportResult, ExportResultCode } from "@opentelemetry/core"
import { resourceFromAttributes } from "@opentelemetry/resources"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { otlpJson } from "../../src/layers/OtlpJson.js"
import { type SpanBatch, SpanBatchProcessor } from "../../src/layers/SpanBatches.js"
import { SpanRecord, type SpanSink } from "../../src/layers/SpanRecord.js"
import { sdkJson, text, withoutDefaults } from "../support/OtlpOracle.js"

const sinkOf = (service: string): SpanSink => ({
  resource: resourceFromAttributes({ "service.name": service, "service.version": "1.0.0" }),
  scope: { name: service, version: "1.0.0" },
  onEnd: () => {}
})

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, "0")

/** A finished span of `sink`, the n-th: its ids say which it is. */
const spanOf = (sink: SpanSink, n: number, name = `span ${n}`, attributes?: Record<string, string | number | boolean>): SpanRecord => {
  const s = new SpanRecord(sink, name, SpanKind.INTERNAL, hex(n + 1, 32), hex(n + 1, 16), undefined, 1_764_400_000_000 + n, attributes)
  s.endMs = s.startMs + 1
  s.ended = true
  return s
}

// a batch's body is the exporter's until it answers (the processor then reuses its buffer): kept as a copy
const copied = (batch: SpanBatch): SpanBatch => ({ body: Buffer.from(batch.body), spans: batch.spans })

/** An exporter that records each batch and answers when `answer` is called. */
const holdingExporter = () => {
  const batches: Array<{ readonly batch: SpanBatch; readonly done: (r: ExportResult) => void }> = []
  let shutdowns = 0
  return {
    batches,
    shutdowns: () => shutdowns,
    /** The spans' ids of each exported batch, in order. */
    ids: () => batches.map(({ batch }) => (JSON.parse(batch.body.toString("utf8")).resourceSpans[0].scopeSpans[0].spans as Array<{ spanId: string }>).map((s) => parseInt(s.spanId, 16) - 1)),
    answer: (i: number, code = ExportResultCode.SUCCESS) => batches[i]!.done({ code }),
    exporter: {
      export: (batch: SpanBatch, done: (r: ExportResult) => void) => void batches.push({ batch: copied(batch), done }),
      shutdown: async () => void shutdowns++
    }
  }
}

/** A timer the test fires by hand. */
const manualTimer = () => {
  let pending: Array<{ readonly f: () => void; cancelled: boolean }> = []
  return {
    setTimer: (f: () => void, _ms: number) => {
      const t = { f, cancelled: false }
      pending.push(t)
      return () => void (t.cancelled = true)
    },
    fire: () => {
      const due = pending.filter((t) => !t.cancelled)
      pending = []
      for (const t of due) t.f()
    },
    armed: () => pending.filter((t) => !t.cancelled).length
  }
}

describe("SpanBatchProcessor", () => {
  it("exports bodies that read as the SDK's JSON export of the same spans, batch by batch", async () => {
    const primitive = fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean())
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ name: text, attributes: fc.option(fc.dictionary(text, primitive, { maxKeys: 4 }), { nil: undefined }), other: fc.boolean() }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 6 }), async (specs, size) => {
        const sinks = [sinkOf("api-gateway"), sinkOf("other")]
        const sent: Array<SpanBatch> = []
        const processor = new SpanBatchProcessor(
          { export: (batch, done) => { sent.push(copied(batch)); done({ code: ExportResultCode.SUCCESS }) }, shutdown: async () => {} },
          { maxExportBatchSize: size, maxQueueSize: 1_000, scheduledDelayMillis: 60_000, setTimer: () => () => {} }
        )
        const spans = specs.map((spec, n) => spanOf(sinks[spec.other ? 1 : 0]!, n, spec.name, spec.attributes))
        for (const s of spans) processor.onEnd(s)
        await processor.forceFlush()
        // each batch: consecutive spans of one resource and scope, at most `size`
        let at = 0
        for (const batch of sent) {
          const theirs: Array<ReadableSpan> = spans.slice(at, at + batch.spans)
          expect(batch.spans).toBeLessThanOrEqual(size)
          expect(new Set(theirs.map((s) => s.resource)).size).toBe(1)
          expect(JSON.parse(batch.body.toString("utf8"))).toEqual(withoutDefaults(sdkJson(theirs)))
          at += batch.spans
        }
        expect(at).toBe(spans.length)
      }),
      { numRuns: 300 }
    )
  })

  it("writes a batch's bytes as the UTF-8 of its JSON, growing its buffer for a batch larger than the last", async () => {
    const sent: Array<SpanBatch> = []
    const processor = new SpanBatchProcessor(
      { export: (batch, done) => { sent.push(copied(batch)); done({ code: ExportResultCode.SUCCESS }) }, shutdown: async () => {} },
      { maxExportBatchSize: 5_000, maxQueueSize: 5_000, scheduledDelayMillis: 500, setTimer: manualTimer().setTimer }
    )
    const sink = sinkOf("api-gateway")
    // small, then far larger than the buffer sized from it, then small again; non-ASCII text,
    // written as up to three bytes a UTF-16 unit, and a lone surrogate, escaped
    for (const [n, text] of [[2, "curl"], [3_000, "klient/1.0 ünïcödé ✓ \ud800"], [5, "€"]] as const) {
      const spans = Array.from({ length: n }, (_, i) => spanOf(sink, i, `GET /api/v1/orders/${i}`, { "user_agent.original": text, n: i }))
      for (const s of spans) processor.onEnd(s)
      await processor.forceFlush()
      const batch = sent.at(-1)!
      expect(batch.spans).toBe(n)
      expect(batch.body.equals(Buffer.from(otlpJson(spans)))).toBe(true)
    }
  })

  it("exports a full batch at once, a partial one when its delay passes, one export at a time", async () => {
    const out = holdingExporter()
    const timer = manualTimer()
    const sink = sinkOf("api-gateway")
    const processor = new SpanBatchProcessor(out.exporter, { maxExportBatchSize: 3, maxQueueSize: 100, scheduledDelayMillis: 500, setTimer: timer.setTimer })
    for (let n = 0; n < 2; n++) processor.onEnd(spanOf(sink, n))
    expect(out.batches).toHaveLength(0) // two of three: waiting for the delay
    expect(timer.armed()).toBe(1)
    processor.onEnd(spanOf(sink, 2))
    expect(out.ids()).toEqual([[0, 1, 2]]) // full: at once, its delay cancelled
    expect(timer.armed()).toBe(0)
    for (let n = 3; n < 7; n++) processor.onEnd(spanOf(sink, n))
    expect(out.batches).toHaveLength(1) // [3, 4, 5] is full but waits for the export under way
    out.answer(0)
    expect(out.ids()).toEqual([[0, 1, 2], [3, 4, 5]])
    timer.fire() // [6]'s delay passes while [3, 4, 5] is being exported
    expect(out.batches).toHaveLength(2)
    out.answer(1, ExportResultCode.FAILED) // a failed export does not stop the next
    expect(out.ids()).toEqual([[0, 1, 2], [3, 4, 5], [6]])
  })

  it("writes a batch into the buffer of one whose export is done, never into one still being exported", () => {
    const bodies: Array<Buffer> = []
    const answers: Array<() => void> = []
    const processor = new SpanBatchProcessor(
      { export: (batch, done) => { bodies.push(batch.body); answers.push(() => done({ code: ExportResultCode.SUCCESS })) }, shutdown: async () => {} },
      { maxExportBatchSize: 2, maxQueueSize: 100, scheduledDelayMillis: 500, setTimer: manualTimer().setTimer }
    )
    const sink = sinkOf("api-gateway")
    for (let n = 0; n < 4; n++) processor.onEnd(spanOf(sink, n)) // [0, 1] exported, [2, 3] waits
    const first = bodies[0]!.toString("utf8")
    answers[0]!() // [2, 3] is exported: it was written while [0, 1] was in flight, so into a buffer of its own
    expect(bodies[0]!.toString("utf8")).toBe(first)
    expect(bodies[1]!.buffer).not.toBe(bodies[0]!.buffer)
    processor.onEnd(spanOf(sink, 4))
    processor.onEnd(spanOf(sink, 5)) // [4, 5] is written into [0, 1]'s buffer and waits for [2, 3]
    const second = bodies[1]!.toString("utf8")
    answers[1]!()
    expect(bodies[1]!.toString("utf8")).toBe(second) // [2, 3]'s body was not touched while in flight
    expect(bodies[2]!.buffer).toBe(bodies[0]!.buffer)
    expect(JSON.parse(bodies[2]!.toString("utf8")).resourceSpans[0].scopeSpans[0].spans.map((s: { name: string }) => s.name)).toEqual(["span 4", "span 5"])
  })

  it("drops spans beyond maxQueueSize while they wait, and takes spans again once a batch has left", () => {
    const out = holdingExporter()
    const sink = sinkOf("api-gateway")
    const processor = new SpanBatchProcessor(out.exporter, { maxExportBatchSize: 2, maxQueueSize: 4, scheduledDelayMillis: 500, setTimer: manualTimer().setTimer })
    for (let n = 0; n < 10; n++) processor.onEnd(spanOf(sink, n))
    // [0, 1] left for the exporter at once; [2, 3] and [4, 5] wait (4 spans: the bound); 6–9 are dropped
    out.answer(0)
    out.answer(1)
    out.answer(2)
    expect(out.ids()).toEqual([[0, 1], [2, 3], [4, 5]])
    processor.onEnd(spanOf(sink, 10))
    processor.onEnd(spanOf(sink, 11))
    expect(out.ids()).toEqual([[0, 1], [2, 3], [4, 5], [10, 11]])
  })

  it("ignores unsampled spans", () => {
    const out = holdingExporter()
    const sink = sinkOf("api-gateway")
    const processor = new SpanBatchProcessor(out.exporter, { maxExportBatchSize: 1, maxQueueSize: 4, scheduledDelayMillis: 500, setTimer: manualTimer().setTimer })
    const unsampled = spanOf(sink, 0)
    ;(unsampled.spanContext() as { traceFlags: number }).traceFlags = 0
    processor.onEnd(unsampled)
    processor.onEnd(spanOf(sink, 1))
    expect(out.ids()).toEqual([[1]])
  })

  it("forceFlush resolves once every span that ended before it has been exported; shutdown flushes, then shuts the exporter down and takes no more", async () => {
    const out = holdingExporter()
    const sink = sinkOf("api-gateway")
    const processor = new SpanBatchProcessor(out.exporter, { maxExportBatchSize: 2, maxQueueSize: 100, scheduledDelayMillis: 500, setTimer: manualTimer().setTimer })
    await processor.forceFlush() // nothing waits: at once
    for (let n = 0; n < 5; n++) processor.onEnd(spanOf(sink, n))
    let flushed = false
    const flush = processor.forceFlush().then(() => void (flushed = true))
    processor.onEnd(spanOf(sink, 5)) // after the flush began: not its own
    out.answer(0)
    out.answer(1)
    await Promise.resolve()
    expect(flushed).toBe(false) // [4] still being exported
    out.answer(2)
    await flush
    expect(out.ids()).toEqual([[0, 1], [2, 3], [4]])

    const shut = processor.shutdown()
    expect(processor.shutdown()).toBe(shut) // once
    out.answer(3) // [5], flushed by the shutdown
    await shut
    expect(out.ids()).toEqual([[0, 1], [2, 3], [4], [5]])
    expect(out.shutdowns()).toBe(1)
    processor.onEnd(spanOf(sink, 6))
    await processor.forceFlush()
    expect(out.batches).toHaveLength(4)
  })
})
