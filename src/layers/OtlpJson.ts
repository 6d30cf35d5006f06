// The OTLP/HTTP JSON body of a batch of finished spans, written by hand. The SDK's
// JsonTraceSerializer builds the whole request as objects (a BigInt per timestamp), then
// JSON.stringify and a TextEncoder; at a sample ratio of 1.0 that was ~20 µs of CPU per
// request (four spans), the largest single cost of tracing. This writes the same document as
// text, with no intermediate objects, leaving out what proto3's JSON mapping lets a writer
// leave out (zero counts, empty lists, an unset status message): Jaeger and the OpenTelemetry
// Collector read both the same. The exporter writes a batch span by span, each as it ends
// (SpanBatches.ts: spanJson between singleScopeHead and singleScopeTail); otlpJson writes a
// whole request of any spans at once. test/tracing/OtlpJson.test.ts and SpanBatches.test.ts
// check that JSON.parse of either equals JSON.parse of the SDK's output, those defaults removed.
import type { Attributes, AttributeValue, HrTime, Link, SpanContext } from "@opentelemetry/api"
import type { IExportTraceServiceResponse } from "@opentelemetry/otlp-transformer"
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base"
import { jsonString as str } from "../domain/JsonString.js"
import { remembered } from "./JsonLine.js"
import { millisNanos, SpanRecord } from "./SpanRecord.js"

/** Nanoseconds since the epoch as a decimal string (OTLP JSON's fixed64), without a BigInt. */
export const hrTimeNanos = ([seconds, nanos]: HrTime): string => {
  const s = Math.trunc(seconds)
  const n = Math.trunc(nanos)
  if (s === 0) return String(n)
  const tail = String(n)
  return `${s}${"000000000".slice(tail.length)}${tail}`
}

// what the SDK's toAnyValue writes for each kind of value
const anyValue = (v: unknown): string => {
  switch (typeof v) {
    case "string":
      return `{"stringValue":${str(v)}}`
    case "number":
      return Number.isInteger(v) ? `{"intValue":${v}}` : `{"doubleValue":${Number.isFinite(v) ? String(v) : "null"}}`
    case "boolean":
      return `{"boolValue":${v}}`
  }
  if (v instanceof Uint8Array) return `{"bytesValue":"${Buffer.from(v).toString("base64")}"}`
  if (Array.isArray(v)) return `{"arrayValue":{"values":[${v.map(anyValue).join(",")}]}}`
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>
    return `{"kvlistValue":{"values":[${Object.keys(o).map((k) => `{"key":${str(k)},"value":${anyValue(o[k])}}`).join(",")}]}}`
  }
  return "{}"
}

// `{"key":"…","value":`: attribute keys are a handful of constants
const keyPart = remembered((key) => `{"key":${str(key)},"value":`)

/** `,"attributes":[…]`, or nothing for none. Own keys only, as the SDK's Object.keys reads them. */
const attributes = (attrs: Attributes | undefined): string => {
  if (attrs === undefined) return ""
  let out = ""
  for (const key in attrs) {
    // a "__proto__" attribute set on a plain object replaces its prototype: whatever that
    // prototype enumerates is not an attribute
    if (!Object.hasOwn(attrs, key)) continue
    const value: AttributeValue | undefined = attrs[key]
    out += `${out === "" ? "" : ","}${keyPart(key)}${anyValue(value)}}`
  }
  return out === "" ? "" : `,"attributes":[${out}]`
}

const count = (name: string, n: number | undefined): string => (n ? `,"${name}":${n}` : "")

// low 8 bits: W3C trace flags; 0x100: whether the parent is remote is known; 0x200: it is
const flags = (traceFlags: number, remote: boolean | undefined): number => (traceFlags & 0xff) | 0x100 | (remote ? 0x200 : 0)

const traceState = (ctx: SpanContext): string => {
  const state = ctx.traceState?.serialize()
  return state ? `,"traceState":${str(state)}` : ""
}

const event = (e: TimedEvent): string =>
  `{"timeUnixNano":"${hrTimeNanos(e.time)}","name":${str(e.name)}${attributes(e.attributes)}${count("droppedAttributesCount", e.droppedAttributesCount)}}`

const link = (l: Link): string =>
  `{"traceId":"${l.context.traceId}","spanId":"${l.context.spanId}"${traceState(l.context)}${attributes(l.attributes)}${count("droppedAttributesCount", l.droppedAttributesCount)},"flags":${flags(l.context.traceFlags, l.context.isRemote)}}`

const span = (s: ReadableSpan): string => {
  const ctx = s.spanContext()
  const parent = s.parentSpanContext
  const status = s.status
  return `{"traceId":"${ctx.traceId}","spanId":"${ctx.spanId}"` +
    (parent?.spanId ? `,"parentSpanId":"${parent.spanId}"` : "") +
    traceState(ctx) +
    `,"name":${str(s.name)},"kind":${s.kind + 1}` + // API kinds start at 0, OTLP's 0 is "unspecified"
    (s instanceof SpanRecord // the gateway's own: epoch milliseconds, no HrTime pairs
      ? `,"startTimeUnixNano":"${millisNanos(s.startMs)}","endTimeUnixNano":"${millisNanos(s.endMs)}"`
      : `,"startTimeUnixNano":"${hrTimeNanos(s.startTime)}","endTimeUnixNano":"${hrTimeNanos(s.endTime)}"`) +
    attributes(s.attributes) +
    count("droppedAttributesCount", s.droppedAttributesCount) +
    (s.events.length === 0 ? "" : `,"events":[${s.events.map(event).join(",")}]`) +
    count("droppedEventsCount", s.droppedEventsCount) +
    `,"status":{${status.code === 0 ? "" : `"code":${status.code}`}${status.message ? `${status.code === 0 ? "" : ","}"message":${str(status.message)}` : ""}}` +
    (s.links.length === 0 ? "" : `,"links":[${s.links.map(link).join(",")}]`) +
    count("droppedLinksCount", s.droppedLinksCount) +
    `,"flags":${flags(ctx.traceFlags, parent?.isRemote)}}`
}

// a batch's spans share a handful of scope objects: their grouping key is written once for each
const scopeKeys = new WeakMap<ReadableSpan["instrumentationScope"], string>()
const scopeKey = (scope: ReadableSpan["instrumentationScope"]): string => {
  let key = scopeKeys.get(scope)
  if (key === undefined) scopeKeys.set(scope, (key = `${scope.name}@${scope.version ?? ""}:${scope.schemaUrl ?? ""}`))
  return key
}

/** The ExportTraceServiceRequest for `spans`, grouped by resource then instrumentation scope, piece by piece to `out`. */
const writeRequest = (spans: ReadonlyArray<ReadableSpan>, out: (piece: string) => void): void => {
  const byResource = new Map<ReadableSpan["resource"], Map<string, Array<ReadableSpan>>>()
  for (const s of spans) {
    let scopes = byResource.get(s.resource)
    if (scopes === undefined) byResource.set(s.resource, (scopes = new Map()))
    const key = scopeKey(s.instrumentationScope)
    const list = scopes.get(key)
    if (list === undefined) scopes.set(key, [s])
    else list.push(s)
  }
  out(`{"resourceSpans":[`)
  let resources = 0
  for (const [resource, scopes] of byResource) {
    out(`${resources++ === 0 ? "" : ","}{"resource":{${attributes(resource.attributes).slice(1)}},"scopeSpans":[`)
    let scopeCount = 0
    for (const list of scopes.values()) {
      const scope = list[0]!.instrumentationScope
      out(`${scopeCount++ === 0 ? "" : ","}{"scope":{"name":${str(scope.name)}${scope.version ? `,"version":${str(scope.version)}` : ""}},"spans":[`)
      for (let i = 0; i < list.length; i++) out(i === 0 ? span(list[i]!) : `,${span(list[i]!)}`)
      out(`]${scope.schemaUrl ? `,"schemaUrl":${str(scope.schemaUrl)}` : ""}}`)
    }
    out(`]${resource.schemaUrl ? `,"schemaUrl":${str(resource.schemaUrl)}` : ""}}`)
  }
  out("]}")
}

/** A span's JSON, as an element of a request's "spans" list. */
export const spanJson = span

type ResourceOf = ReadableSpan["resource"]
type ScopeOf = ReadableSpan["instrumentationScope"]

/** What precedes the spans of a request whose spans all share one resource and one scope (writeRequest's pieces). */
export const singleScopeHead = (resource: ResourceOf, scope: ScopeOf): string =>
  `{"resourceSpans":[{"resource":{${attributes(resource.attributes).slice(1)}},"scopeSpans":[` +
  `{"scope":{"name":${str(scope.name)}${scope.version ? `,"version":${str(scope.version)}` : ""}},"spans":[`

/** What follows them. */
export const singleScopeTail = (resource: ResourceOf, scope: ScopeOf): string =>
  `]${scope.schemaUrl ? `,"schemaUrl":${str(scope.schemaUrl)}` : ""}}]${resource.schemaUrl ? `,"schemaUrl":${str(resource.schemaUrl)}` : ""}}]}`

/** The ExportTraceServiceRequest for `spans` as one string. */
export const otlpJson = (spans: ReadonlyArray<ReadableSpan>): string => {
  let body = ""
  writeRequest(spans, (piece) => (body += piece))
  return body
}

/** An export's answer, read as the SDK reads it: empty, or not JSON, is a success with nothing to report. */
export const readExportResponse = (data: Uint8Array): IExportTraceServiceResponse => {
  try {
    return data.length === 0 ? {} : (JSON.parse(Buffer.from(data).toString("utf8")) as IExportTraceServiceResponse)
  } catch {
    return {}
  }
}
