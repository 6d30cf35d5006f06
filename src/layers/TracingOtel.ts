// Traces over OTLP/HTTP (SPEC §5), the provider and exporter run by @effect/opentelemetry
// (batched, bounded queue, flushed and shut down with the layer). Spans are made with the
// OpenTelemetry API only for sampled requests: @effect/opentelemetry's Effect spans cost
// ~250–300 µs a request whether sampled or not (PERFORMANCE.md).
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as Resource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api"
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base"
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from "@opentelemetry/otlp-exporter-base/node-http"
import { TraceExporterMetricsHelper } from "@opentelemetry/otlp-transformer"
import { BatchSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { parseTraceParent } from "../domain/TraceParent.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { type RequestTrace, Tracing } from "../services/Tracing.js"
import { otlpJsonSerializer } from "./OtlpJson.js"

const TracingOtel = Layer.effect(
  Tracing,
  Effect.gen(function* () {
    const tracer = yield* OtelTracer.OtelTracer
    const { config } = yield* (yield* GatewayConfig).current
    const ratio = config.tracing.sample_ratio
    return Tracing.of({
      enabled: true,
      start: ({ attributes, method, traceparent }): RequestTrace | undefined => {
        const incoming = parseTraceParent(traceparent)
        // parent-based: a sampled incoming trace stays sampled, an unsampled one stays not
        const sampled = incoming !== undefined ? incoming.sampled : Math.random() < ratio
        if (!sampled) return undefined
        const parent = incoming === undefined
          ? ROOT_CONTEXT
          : trace.setSpanContext(ROOT_CONTEXT, { traceId: incoming.traceId, spanId: incoming.parentSpanId!, traceFlags: TraceFlags.SAMPLED, isRemote: true })
        const server = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: attributes() }, parent)
        const inside = trace.setSpan(ROOT_CONTEXT, server)
        return {
          traceId: server.spanContext().traceId,
          child: (name, childAttributes) => {
            const span = tracer.startSpan(name, { kind: name.startsWith("upstream") ? SpanKind.CLIENT : SpanKind.INTERNAL, ...(childAttributes === undefined ? {} : { attributes: childAttributes }) }, inside)
            return {
              spanId: span.spanContext().spanId,
              end: (error) => {
                if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error })
                span.end()
              }
            }
          },
          end: (status, route, endAttributes) => {
            server.updateName(route === undefined ? method : `${method} ${route}`)
            server.setAttribute("http.response.status_code", status)
            if (route !== undefined) server.setAttribute("http.route", route)
            if (endAttributes !== undefined) server.setAttributes(endAttributes)
            if (status >= 500) server.setStatus({ code: SpanStatusCode.ERROR }) // error status only on 5xx
            server.end()
          }
        }
      }
    })
  })
)

/**
 * The SDK's OTLP/HTTP JSON trace exporter (its transport: timeout, retries of retryable
 * answers, bounded concurrent exports) with the body written by OtlpJson.ts instead of
 * JsonTraceSerializer, which was the largest single cost of tracing at a ratio of 1.0.
 */
class OtlpJsonTraceExporter extends OTLPExporterBase<Array<ReadableSpan>> {
  constructor(url: string, timeoutMillis: number) {
    super(createOtlpHttpExportDelegate(
      convertLegacyHttpOptions({ url, timeoutMillis }, "TRACES", "v1/traces", { "Content-Type": "application/json" }),
      otlpJsonSerializer,
      "otlp_http_span_exporter",
      TraceExporterMetricsHelper,
      undefined
    ))
  }
}

/** The OTLP/HTTP exporter and tracer for `endpoint`: batched, bounded queue, flushed on close. */
export const tracingOtel = (endpoint: string, serviceName: string) => {
  const processor = new BatchSpanProcessor(new OtlpJsonTraceExporter(endpoint, 5_000), {
    maxQueueSize: 4_096,
    maxExportBatchSize: 512,
    scheduledDelayMillis: 500
  })
  return TracingOtel.pipe(
    Layer.provide(OtelTracer.layerTracer),
    Layer.provide(NodeSdk.layerTracerProvider(processor, { shutdownTimeout: "3 seconds" })),
    Layer.provide(Resource.layer({ serviceName, serviceVersion: "1.0.0" }))
  )
}
