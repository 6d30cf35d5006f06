// The SDK's own OTLP JSON serializer as the oracle for the gateway's (OtlpJson.ts), and
// fast-check arbitraries for the span contents both are fed.
import type { Attributes } from "@opentelemetry/api"
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as fc from "fast-check"

// What proto3's JSON mapping lets a writer leave out: zero numbers, empty lists and
// objects' default fields. The SDK writes them all; OtlpJson leaves them out.
export const withoutDefaults = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(withoutDefaults)
  if (typeof v !== "object" || v === null) return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined || (Array.isArray(x) && x.length === 0 && k !== "values")) continue // an empty array value stays
    if ((x === 0 && (k.startsWith("dropped") || k === "code")) || (x === "" && k === "message")) continue
    out[k] = withoutDefaults(x)
  }
  return out
}
export const sdkJson = (spans: Array<ReadableSpan>) => JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans)))

// names and values with quotes, backslashes, control characters and lone surrogates
export const text = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("", "a\"b", "a\\b", "\n", "\u2028", "\ud800", "😀"))
const value = fc.oneof(
  text,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.array(text, { maxLength: 3 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.array(fc.boolean(), { maxLength: 3 })
)
export const attributes = fc.dictionary(text, value, { maxKeys: 5 }) as fc.Arbitrary<Attributes>
