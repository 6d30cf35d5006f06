// Traces over OTLP/HTTP (SPEC §5). Spans are made only for sampled requests (PERFORMANCE.md:
// @effect/opentelemetry's Effect spans cost ~250–300 µs a request whether sampled or not), as
// SpanRecords, not through the SDK's Tracer (SpanRecord.ts says why); SpanBatches.ts writes each
// as JSON when it ends into a batch (bounded queue) for the SDK's OTLP/HTTP transport, and the
// provider @effect/opentelemetry runs owns the processor: flushed and shut down with the layer.
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as Resource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import { type SpanContext, SpanKind, TraceFlags } from "@opentelemetry/api"
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base"
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from "@opentelemetry/otlp-exporter-base/node-http"
import type { IExportTraceServiceResponse, ISerializer } from "@opentelemetry/otlp-transformer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { newSpanId, newTraceId, parseTraceParent } from "../domain/TraceParent.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { type Attributes, type ChildSpan, type RequestTrace, Tracing } from "../services/Tracing.js"
import { readExportResponse } from "./OtlpJson.js"
import { type SpanBatch, SpanBatchProcessor } from "./SpanBatches.js"
import { epochMillis, SpanRecord, type SpanSink } from "./SpanRecord.js"

/** The spans of one sampled request: its server span, and children made under it. */
class SampledRequest implements RequestTrace {
  readonly traceId: string
  constructor(private readonly sink: SpanSink, private readonly server: SpanRecord, private readonly method: string) {
    this.traceId = server.spanContext().traceId
  }

  child(name: string, attributes?: Attributes): ChildSpan {
    const kind = name.startsWith("upstream") ? SpanKind.CLIENT : SpanKind.INTERNAL
    return new SpanRecord(this.sink, name, kind, this.traceId, newSpanId(), this.server.spanContext(), epochMillis(), attributes)
  }

  end(status: number, route: string | undefined, attributes?: Attributes): void {
    const server = this.server
    if (route !== undefined) server.name = `${this.method} ${route}`
    const a = server.attributes
    a["http.response.status_code"] = status
    if (route !== undefined) a["http.route"] = route
    if (attributes !== undefined) for (const key in attributes) a[key] = attributes[key]!
    if (status >= 500) server.fail(undefined) // error status only on 5xx
    server.finish()
  }
}

const TracingOtel = (processor: SpanBatchProcessor) => Layer.effect(
  Tracing,
  Effect.gen(function* () {
    yield* OtelTracer.OtelTracerProvider // holds the processor: built first, closed last
    const resource = yield* Resource.Resource
    const { config } = yield* (yield* GatewayConfig).current
    const ratio = config.tracing.sample_ratio
    const sink: SpanSink = {
      resource,
      // the scope the SDK's tracer had: the service's name and version (OtelTracer.layerTracer)
      scope: { name: String(resource.attributes["service.name"]), version: String(resource.attributes["service.version"]) },
      onEnd: (span) => processor.onEnd(span)
    }
    return Tracing.of({
      enabled: true,
      start: ({ attributes, method, startedAt, traceparent }): RequestTrace | undefined => {
        const incoming = parseTraceParent(traceparent)
        // parent-based: a sampled incoming trace stays sampled, an unsampled one stays not
        const sampled = incoming !== undefined ? incoming.sampled : Math.random() < ratio
        if (!sampled) return undefined
        const traceId = incoming?.traceId ?? newTraceId()
        const remote: SpanContext | undefined = incoming === undefined
          ? undefined
          : { traceId, spanId: incoming.parentSpanId!, traceFlags: TraceFlags.SAMPLED, isRemote: true }
        const server = new SpanRecord(sink, method, SpanKind.SERVER, traceId, newSpanId(), remote, epochMillis(startedAt), attributes())
        return new SampledRequest(sink, server, method)
      }
    })
  })
)

// a batch arrives as its body already: the serializer hands it over; the exporter's
// self-observability counts its spans
const batchSerializer: ISerializer<SpanBatch, IExportTraceServiceResponse> = {
  serializeRequest: (batch) => batch.body,
  deserializeResponse: readExportResponse
}

/**
 * The SDK's OTLP/HTTP JSON trace exporter (its transport: timeout, retries of retryable
 * answers, bounded concurrent exports) sending bodies written by OtlpJson.ts instead of
 * JsonTraceSerializer, which was the largest single cost of tracing at a ratio of 1.0.
 */
class OtlpJsonTraceExporter extends OTLPExporterBase<SpanBatch> {
  constructor(url: string, timeoutMillis: number) {
    super(createOtlpHttpExportDelegate(
      convertLegacyHttpOptions({ url, timeoutMillis }, "TRACES", "v1/traces", { "Content-Type": "application/json" }),
      batchSerializer,
      "otlp_http_span_exporter",
      { name: "span", countItems: (batch) => batch.spans },
      undefined
    ))
  }
}

/** The OTLP/HTTP exporter and tracer for `endpoint`: batched, bounded queue, flushed on close. */
export const tracingOtel = (endpoint: string, serviceName: string) => {
  const processor = new SpanBatchProcessor(new OtlpJsonTraceExporter(endpoint, 5_000), {
    maxQueueSize: 4_096,
    maxExportBatchSize: 512,
    scheduledDelayMillis: 500
  })
  return TracingOtel(processor).pipe(
    Layer.provide(NodeSdk.layerTracerProvider(processor, { shutdownTimeout: "3 seconds" })),
    Layer.provide(Resource.layer({ serviceName, serviceVersion: "1.0.0" }))
  )
}
