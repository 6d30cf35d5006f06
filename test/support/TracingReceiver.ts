// A real OTLP/HTTP trace receiver for the tracing suites (SPEC §5 Traces): node:http on
// 127.0.0.1 port 0, POST /v1/traces with a JSON body (what Jaeger's OTLP port accepts as
// JSON). A protobuf body is answered 415 and recorded, so a test shows the exporter's format.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { gunzipSync, inflateSync } from "node:zlib"
import { eventually } from "./HttpClient.js"

export type AttributeValue = string | number | boolean

export interface ExportedSpan {
  /** 32 lower-case hex digits. */
  readonly traceId: string
  /** 16 lower-case hex digits. */
  readonly spanId: string
  /** Undefined for a root span (absent or empty in the export). */
  readonly parentSpanId: string | undefined
  readonly name: string
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  readonly kind: number
  readonly attributes: Readonly<Record<string, AttributeValue>>
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message: string | undefined }
  readonly resource: Readonly<Record<string, AttributeValue>>
  /** Nanoseconds since the epoch (OTLP fixed64, a decimal string or a number in JSON). */
  readonly startNs: bigint
  readonly endNs: bigint
}

export interface ReceivedPost {
  readonly method: string
  readonly path: string
  readonly contentType: string | undefined
  /** What the receiver answered. */
  readonly status: number
  readonly spanCount: number
}

export interface TracingReceiver {
  /** The OTLP/HTTP traces URL, for `tracing.endpoint`. */
  readonly url: string
  /** Every request that reached the receiver, whatever it was. */
  readonly posts: ReadonlyArray<ReceivedPost>
  /** Every span decoded so far, in arrival order. */
  readonly spans: ReadonlyArray<ExportedSpan>
  /** Bodies that were JSON but not an OTLP trace export, with what was wrong. */
  readonly problems: ReadonlyArray<string>
  readonly trace: (traceId: string) => ReadonlyArray<ExportedSpan>
}

export class Receiver extends Context.Tag("test/TracingReceiver")<Receiver, TracingReceiver>() {}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const listOf = (u: unknown): ReadonlyArray<unknown> => (Array.isArray(u) ? u : [])

class Malformed extends Error {}

const valueOf = (key: string, v: unknown): AttributeValue => {
  if (!isObject(v)) throw new Malformed(`attribute ${key}: value is not an object`)
  if (typeof v.stringValue === "string" || typeof v.boolValue === "boolean" || typeof v.doubleValue === "number") {
    return (v.stringValue ?? v.boolValue ?? v.doubleValue) as AttributeValue
  }
  // OTLP JSON allows an int64 as a number or a decimal string
  if (typeof v.intValue === "number" || (typeof v.intValue === "string" && /^-?\d+$/.test(v.intValue))) return Number(v.intValue)
  throw new Malformed(`attribute ${key}: unsupported value ${JSON.stringify(v)}`)
}

const attributesOf = (list: unknown): Record<string, AttributeValue> => {
  const out: Record<string, AttributeValue> = {}
  for (const a of listOf(list)) {
    if (!isObject(a) || typeof a.key !== "string") throw new Malformed(`attribute without a key: ${JSON.stringify(a)}`)
    out[a.key] = valueOf(a.key, a.value)
  }
  return out
}

const hexId = (what: string, u: unknown, digits: number): string => {
  if (typeof u !== "string" || !new RegExp(`^[0-9a-f]{${digits}}$`).test(u)) {
    throw new Malformed(`${what}: expected ${digits} lower-case hex digits, got ${JSON.stringify(u)}`)
  }
  return u
}

const nanos = (what: string, u: unknown): bigint => {
  if ((typeof u === "string" && /^\d+$/.test(u)) || (typeof u === "number" && Number.isSafeInteger(u) && u >= 0)) return BigInt(u)
  throw new Malformed(`${what}: expected unsigned nanoseconds, got ${JSON.stringify(u)}`)
}

/** resourceSpans → scopeSpans → spans, flattened; throws Malformed on anything else. */
export const decodeExport = (body: unknown): Array<ExportedSpan> => {
  if (!isObject(body) || !Array.isArray(body.resourceSpans)) throw new Malformed("no resourceSpans array")
  const spans: Array<ExportedSpan> = []
  for (const rs of body.resourceSpans) {
    if (!isObject(rs)) throw new Malformed("a resourceSpans entry is not an object")
    const resource = attributesOf(isObject(rs.resource) ? rs.resource.attributes : undefined)
    for (const ss of listOf(rs.scopeSpans)) {
      if (!isObject(ss)) throw new Malformed("a scopeSpans entry is not an object")
      for (const s of listOf(ss.spans)) {
        if (!isObject(s) || typeof s.name !== "string") throw new Malformed(`a span without a name: ${JSON.stringify(s)}`)
        const status = isObject(s.status) ? s.status : {}
        spans.push({
          traceId: hexId("traceId", s.traceId, 32),
          spanId: hexId("spanId", s.spanId, 16),
          parentSpanId: s.parentSpanId === undefined || s.parentSpanId === "" ? undefined : hexId("parentSpanId", s.parentSpanId, 16),
          name: s.name,
          kind: typeof s.kind === "number" ? s.kind : 0,
          attributes: attributesOf(s.attributes),
          status: { code: typeof status.code === "number" ? status.code : 0, message: typeof status.message === "string" ? status.message : undefined },
          resource,
          startNs: nanos("startTimeUnixNano", s.startTimeUnixNano),
          endNs: nanos("endTimeUnixNano", s.endTimeUnixNano)
        })
      }
    }
  }
  return spans
}

const decompress = (body: Buffer, encoding: string | undefined): Buffer =>
  encoding === "gzip" ? gunzipSync(body) : encoding === "deflate" ? inflateSync(body) : body

/** Starts the receiver; it closes (connections too) with the scope. */
export const startTracingReceiver: Effect.Effect<TracingReceiver, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ readonly close: () => Promise<void>; readonly receiver: TracingReceiver }>((resume) => {
    const posts: Array<ReceivedPost> = []
    const spans: Array<ExportedSpan> = []
    const problems: Array<string> = []
    const answer = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown, spanCount = 0) => {
      posts.push({ method: req.method ?? "", path: (req.url ?? "").split("?")[0]!, contentType: req.headers["content-type"], status, spanCount })
      const text = JSON.stringify(body)
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
      res.end(text)
    }
    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("error", () => {})
      req.on("end", () => {
        const path = (req.url ?? "").split("?")[0]
        if (req.method !== "POST" || path !== "/v1/traces") return answer(req, res, 404, { error: "not an OTLP traces request" })
        const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
        if (type !== "application/json") return answer(req, res, 415, { error: `this receiver takes OTLP JSON, got ${type || "no content type"}` })
        try {
          const encoding = req.headers["content-encoding"]?.toLowerCase()
          const decoded = decodeExport(JSON.parse(decompress(Buffer.concat(chunks), encoding).toString("utf8")))
          spans.push(...decoded) // recorded before answering: an awaited flush has delivered them
          answer(req, res, 200, {}, decoded.length)
        } catch (e) {
          problems.push(e instanceof Error ? e.message : String(e))
          answer(req, res, 400, { error: "not an OTLP JSON trace export" })
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({
        receiver: {
          url: `http://127.0.0.1:${port}/v1/traces`,
          posts,
          spans,
          problems,
          trace: (traceId) => spans.filter((s) => s.traceId === traceId)
        },
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      }))
    })
  }),
  ({ close }) => Effect.promise(close)
).pipe(Effect.map(({ receiver }) => receiver))

export const ReceiverLive = Layer.scoped(Receiver, startTracingReceiver)

/**
 * The spans of one trace once its server span (kind 2) has arrived: the children end
 * before it, so they were queued before it and exported in the same or an earlier batch.
 * Polled for at most `timeoutMs` (the batch delay is ~500 ms).
 */
export const waitForTrace = (receiver: TracingReceiver, traceId: string, timeoutMs = 5_000) =>
  eventually(
    Effect.suspend(() => {
      const spans = receiver.trace(traceId)
      return spans.some((s) => s.kind === 2)
        ? Effect.succeed(spans)
        : Effect.fail(`no server span of trace ${traceId} reached the receiver within ${timeoutMs} ms (${receiver.spans.length} spans received, posts: ${JSON.stringify(receiver.posts)}, problems: ${JSON.stringify(receiver.problems)})`)
    }),
    { timeoutMs, intervalMs: 50 }
  )

/** The one server span of a trace; fails the test when there is none or more than one. */
export const serverSpanOf = (spans: ReadonlyArray<ExportedSpan>): ExportedSpan => {
  const servers = spans.filter((s) => s.kind === 2)
  if (servers.length !== 1) throw new Error(`expected one server span, got ${servers.length}: ${JSON.stringify(spans.map((s) => s.name))}`)
  return servers[0]!
}

/** The spans whose parent is `parent`, by name. */
export const childrenOf = (spans: ReadonlyArray<ExportedSpan>, parent: ExportedSpan): ReadonlyArray<ExportedSpan> =>
  spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId)
