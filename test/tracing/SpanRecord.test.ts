import { SpanKind } from "@opentelemetry/api"
import { resourceFromAttributes } from "@opentelemetry/resources"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { otlpJson } from "../../src/layers/OtlpJson.js"
import { millisNanos, SpanRecord, type SpanSink } from "../../src/layers/SpanRecord.js"
import { sdkJson, text, withoutDefaults } from "../support/OtlpOracle.js"

const sinkOf = (service: string, ended: Array<ReadableSpan>): SpanSink => ({
  resource: resourceFromAttributes({ "service.name": service, "service.version": "1.0.0" }),
  scope: { name: service, version: "1.0.0" },
  onEnd: (span) => ended.push(span)
})

const primitive = fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean())
const hex = (digits: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${digits}}$`))
const recordSpec = fc.record({
  name: text,
  renamed: fc.option(text, { nil: undefined }),
  kind: fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT),
  traceId: hex(32),
  spanId: hex(16),
  parent: fc.option(fc.record({ spanId: hex(16), isRemote: fc.boolean() }), { nil: undefined }),
  // epoch milliseconds with a fraction, up to the year 2096; a duration from 0 to an hour
  startMs: fc.double({ min: 0, max: 4e12, noNaN: true }),
  durationMs: fc.double({ min: 0, max: 3.6e6, noNaN: true }),
  attributes: fc.option(fc.dictionary(text, primitive, { maxKeys: 5 }), { nil: undefined }),
  later: fc.dictionary(text, primitive, { maxKeys: 3 }),
  failure: fc.option(fc.option(text, { nil: undefined }), { nil: null })
})

describe("SpanRecord", () => {
  it("reads, through the SDK's own JSON serializer, as the gateway's serializer writes it", () => {
    fc.assert(
      fc.property(fc.array(recordSpec, { minLength: 1, maxLength: 5 }), (specs) => {
        const ended: Array<ReadableSpan> = []
        const sinks = [sinkOf("api-gateway", ended), sinkOf("other", ended)]
        specs.forEach((spec, i) => {
          const parent = spec.parent === undefined ? undefined : { traceId: spec.traceId, spanId: spec.parent.spanId, traceFlags: 1, isRemote: spec.parent.isRemote }
          const span = new SpanRecord(sinks[i % 2]!, spec.name, spec.kind, spec.traceId, spec.spanId, parent, spec.startMs, spec.attributes)
          if (spec.renamed !== undefined) span.name = spec.renamed
          Object.assign(span.attributes, spec.later)
          if (spec.failure !== null) span.fail(spec.failure)
          span.finish(spec.startMs + spec.durationMs)
        })
        expect(ended).toHaveLength(specs.length)
        expect(JSON.parse(otlpJson(ended))).toEqual(withoutDefaults(sdkJson(ended)))
      }),
      { numRuns: 500 }
    )
  })

  it("writes epoch milliseconds as exact nanoseconds, carrying a rounded-up second", () => {
    expect(millisNanos(0)).toBe("0")
    expect(millisNanos(1.5)).toBe("1500000")
    expect(millisNanos(1_764_400_000_123.25)).toBe("1764400000123250000")
    expect(millisNanos(999.9999999999)).toBe("1000000000")
    // a double holds epoch milliseconds to within ~0.25 µs until 2109: microseconds survive
    fc.assert(fc.property(fc.integer({ min: 0, max: 4_000_000_000 }), fc.integer({ min: 0, max: 999_999 }), (s, us) => {
      const written = millisNanos(s * 1_000 + us / 1_000)
      expect(written).toMatch(/^(0|[1-9]\d*)$/)
      const exact = BigInt(s) * 1_000_000_000n + BigInt(us) * 1_000n
      expect(Number(BigInt(written) - exact)).toBeGreaterThanOrEqual(-250)
      expect(Number(BigInt(written) - exact)).toBeLessThanOrEqual(250)
    }))
  })

  it("ends once: the sink hears the first end, the end never precedes the start", () => {
    const ended: Array<ReadableSpan> = []
    const span = new SpanRecord(sinkOf("api-gateway", ended), "rate limit", SpanKind.INTERNAL, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", undefined, 1_000, undefined)
    expect(span.ended).toBe(false)
    span.finish(999) // a clock read before the start: a zero-length span, not a negative one
    span.finish(5_000)
    span.end("late") // a step's end after the span ended changes nothing
    expect(ended).toEqual([span])
    expect(span.ended).toBe(true)
    expect(span.endTime).toEqual([1, 0])
    expect(span.duration).toEqual([0, 0])
    expect(span.status).toEqual({ code: 0 })
    expect(span.spanContext()).toEqual({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 })
  })
})
