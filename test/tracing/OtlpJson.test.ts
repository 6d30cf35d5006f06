import { type Link, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from "@opentelemetry/api"
import { TraceState } from "@opentelemetry/core"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { hrTimeNanos, otlpJson, readExportResponse } from "../../src/layers/OtlpJson.js"
import { attributes, sdkJson, text, withoutDefaults } from "../support/OtlpOracle.js"

const spanSpec = fc.record({
  name: text,
  kind: fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER),
  attributes,
  laterAttributes: attributes,
  events: fc.array(fc.record({ name: text, attributes: fc.option(attributes, { nil: undefined }) }), { maxLength: 2 }),
  status: fc.option(fc.record({ code: fc.constantFrom(0, 1, 2), message: fc.option(text, { nil: undefined }) }), { nil: undefined }),
  parent: fc.constantFrom("none", "local", "remote"),
  traceState: fc.option(fc.constantFrom("vendor=a", "k1=v1,k2=v2"), { nil: undefined }),
  linked: fc.boolean()
})

const provider = (exporter: InMemorySpanExporter, service: string) =>
  new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": service, "service.version": "1.0.0", "deployment.count": 3 }),
    spanProcessors: [new SimpleSpanProcessor(exporter)]
  })

describe("otlpJson", () => {
  it("is the SDK's JSON trace export, less the defaults proto3's JSON mapping omits, for arbitrary spans", async () => {
    const exporter = new InMemorySpanExporter()
    const tracers = [provider(exporter, "api-gateway").getTracer("gateway", "1.0.0"), provider(exporter, "other").getTracer("other")]
    await fc.assert(
      fc.asyncProperty(fc.array(spanSpec, { minLength: 1, maxLength: 6 }), async (specs) => {
        exporter.reset()
        specs.forEach((spec, i) => {
          const tracer = tracers[i % 2]!
          const parentSpan = spec.parent === "local" ? tracer.startSpan("parent") : undefined
          const context = spec.parent === "remote"
            ? trace.setSpanContext(ROOT_CONTEXT, {
              traceId: "0af7651916cd43dd8448eb211c80319c",
              spanId: "b7ad6b7169203331",
              traceFlags: TraceFlags.SAMPLED,
              isRemote: true,
              ...(spec.traceState === undefined ? {} : { traceState: new TraceState(spec.traceState) })
            })
            : parentSpan === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, parentSpan)
          const links: Array<Link> = spec.linked
            ? [{ context: { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1, isRemote: true }, attributes: { "link.n": 1 } }]
            : []
          const span = tracer.startSpan(spec.name, { kind: spec.kind, attributes: spec.attributes, links }, context)
          span.setAttributes(spec.laterAttributes)
          for (const e of spec.events) span.addEvent(e.name, e.attributes)
          if (spec.status !== undefined) span.setStatus(spec.status.message === undefined ? { code: spec.status.code } : { code: spec.status.code, message: spec.status.message })
          span.end()
          parentSpan?.end()
        })
        const spans = exporter.getFinishedSpans()
        // the bytes that go out: a lone surrogate must arrive escaped, as JSON.stringify writes it
        const ours = JSON.parse(new TextDecoder().decode(Buffer.from(otlpJson(spans))))
        expect(ours).toEqual(withoutDefaults(sdkJson(spans)))
      }),
      { numRuns: 500 }
    )
  })

  it("writes only a span's own attributes, as the SDK does, when a \"__proto__\" attribute replaced its prototype", () => {
    const exporter = new InMemorySpanExporter()
    const span = provider(exporter, "api-gateway").getTracer("gateway").startSpan("s", { attributes: { a: 1 } })
    span.setAttributes(JSON.parse('{"__proto__":[7]}') as Record<string, Array<number>>) // an own "__proto__" key
    span.end()
    const spans = exporter.getFinishedSpans()
    const ours = JSON.parse(otlpJson(spans)) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ attributes: unknown }> }> }> }
    expect(ours.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes).toEqual([{ key: "a", value: { intValue: 1 } }])
    expect(ours).toEqual(withoutDefaults(sdkJson(spans)))
  })

  it("writes a sampled server span with its remote parent, kind, times and attributes as Jaeger reads them", () => {
    const exporter = new InMemorySpanExporter()
    const tracer = provider(exporter, "api-gateway").getTracer("gateway")
    const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1, isRemote: true })
    const span = tracer.startSpan("GET /api/v1/orders/:id", { kind: SpanKind.SERVER, attributes: { "http.response.status_code": 200, "url.path": "/api/v1/orders/7" }, startTime: [1_764_400_000, 5] }, parent)
    span.end([1_764_400_000, 1_000_005])
    const body = JSON.parse(otlpJson(exporter.getFinishedSpans()))
    expect(body.resourceSpans[0].resource.attributes).toContainEqual({ key: "service.name", value: { stringValue: "api-gateway" } })
    expect(body.resourceSpans[0].scopeSpans[0].spans).toEqual([{
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: span.spanContext().spanId,
      parentSpanId: "b7ad6b7169203331",
      name: "GET /api/v1/orders/:id",
      kind: 2,
      startTimeUnixNano: "1764400000000000005",
      endTimeUnixNano: "1764400000001000005",
      attributes: [
        { key: "http.response.status_code", value: { intValue: 200 } },
        { key: "url.path", value: { stringValue: "/api/v1/orders/7" } }
      ],
      status: {},
      flags: 0x301 // sampled, and the parent's remoteness known and true
    }])
  })

  it("reads an export's answer as the SDK does: partial success reported, empty or not JSON a plain success", () => {
    const partial = { partialSuccess: { rejectedSpans: 2, errorMessage: "too old" } }
    expect(readExportResponse(Buffer.from(JSON.stringify(partial)))).toEqual(partial)
    expect(readExportResponse(new Uint8Array())).toEqual({})
    expect(readExportResponse(Buffer.from("<html>"))).toEqual({})
  })

  it("writes nanoseconds since the epoch without losing precision", () => {
    expect(hrTimeNanos([0, 0])).toBe("0")
    expect(hrTimeNanos([0, 42])).toBe("42")
    expect(hrTimeNanos([1, 5])).toBe("1000000005")
    expect(hrTimeNanos([1_764_400_000, 999_999_999])).toBe("1764400000999999999")
    fc.assert(fc.property(fc.integer({ min: 0, max: 4_000_000_000 }), fc.integer({ min: 0, max: 999_999_999 }), (s, n) => {
      expect(hrTimeNanos([s, n])).toBe((BigInt(s) * 1_000_000_000n + BigInt(n)).toString())
    }))
  })
})
