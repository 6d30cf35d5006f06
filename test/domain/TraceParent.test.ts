import { describe, expect, it } from "vitest"
import { formatTraceParent, newSpanId, newTraceId, newUnsampledTraceParent, parseTraceParent, traceIdOf } from "../../src/domain/TraceParent.js"

describe("TraceParent", () => {
  it("draws trace and span ids of lower-case hex, none repeated across many refills of the random pool", () => {
    const seen = new Set<string>()
    for (let i = 0; i < 5_000; i++) { // ~30 refills of the 4 KiB pool
      const trace = newTraceId()
      const span = newSpanId()
      expect(trace).toMatch(/^[0-9a-f]{32}$/)
      expect(span).toMatch(/^[0-9a-f]{16}$/)
      seen.add(trace).add(span)
    }
    expect(seen.size).toBe(10_000)
  })

  it("formats a traceparent that parses back to its ids and sampled flag", () => {
    const traceId = newTraceId()
    const spanId = newSpanId()
    expect(parseTraceParent(formatTraceParent(traceId, spanId, true))).toEqual({ traceId, parentSpanId: spanId, sampled: true })
    expect(parseTraceParent(formatTraceParent(traceId, spanId, false))).toEqual({ traceId, parentSpanId: spanId, sampled: false })
  })

  it("refuses malformed and all-zero ids", () => {
    for (const bad of ["", "00-abc-def-01", `00-${"0".repeat(32)}-${"a".repeat(16)}-01`, `00-${"a".repeat(32)}-${"0".repeat(16)}-01`, `01-${"a".repeat(32)}-${"b".repeat(16)}-01`]) {
      expect(parseTraceParent(bad)).toBeUndefined()
    }
    expect(parseTraceParent(["a", "b"])).toBeUndefined()
  })

  it("makes new unsampled traceparents that parse, none repeated across many refills of their pool", () => {
    const seen = new Set<string>()
    for (let i = 0; i < 1_000; i++) { // ~16 refills of 64
      const header = newUnsampledTraceParent()
      const parsed = parseTraceParent(header)
      expect(parsed).toEqual({ traceId: traceIdOf(header), parentSpanId: header.slice(36, 52), sampled: false })
      expect(header).toBe(formatTraceParent(parsed!.traceId, parsed!.parentSpanId!, false))
      seen.add(parsed!.traceId).add(parsed!.parentSpanId!)
    }
    expect(seen.size).toBe(2_000)
  })
})
