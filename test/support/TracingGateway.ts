// The gateway for the tracing suites: the OTLP receiver starts first (its URL is
// tracing.endpoint), then a scripted backend, then the gateway; they close in reverse, so
// the gateway's exporter is flushed into a receiver that is still listening.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import { HttpListener } from "../../src/http/Server.js"
import { freePort } from "./HttpBackend.js"
import { type Reply, send } from "./HttpClient.js"
import { json, type ProxyBackend, quietBreaker, type Respond, serviceAt, type Seen, startProxyBackend } from "./ProxyBackend.js"
import { merge } from "./TestConfig.js"
import { gatewayUrl, makeTestGateway } from "./TestGateway.js"
import { startTracingReceiver, type TracingReceiver } from "./TracingReceiver.js"

type Doc = Record<string, unknown>

export interface TracingFixture {
  readonly receiver: TracingReceiver
  readonly backend: ProxyBackend
  /** A loopback URL nothing listens on. */
  readonly closedUrl: string
}

export class TracingSetup extends Context.Tag("test/TracingSetup")<TracingSetup, TracingFixture>() {}

export const serviceName = "gateway-under-trace"
export const apiKey = "tracing-suite-viewer-key-0123456789"
export const userAgent = "tracing-suite/1.0"

/** Answers attempt n of a case with the n-th status of `?script=` (the last repeats); 200 by default. */
export const scripted: Respond = (req, res, seen) => {
  const script = (new URL(req.url ?? "/", "http://backend").searchParams.get("script") ?? "200").split(",").map(Number)
  const status = script[Math.min(seen.attempt, script.length - 1)]!
  json(res, status, { attempt: seen.attempt + 1, status })
}

/**
 * Tracing on at sample ratio 1, auth with one viewer API key, rate limits on, a shared
 * cache rule on /api/v1/market-data/symbols; market_data at the backend (2 retries, 20 ms
 * backoff), account_monitor at a closed port without retries. `over` is merged last.
 */
export const tracedConfig = (f: { readonly receiverUrl: string | undefined; readonly backendUrl: string; readonly closedUrl: string }, over: Doc = {}): Doc =>
  merge(
    {
      features: { enable_tracing: true },
      tracing: { ...(f.receiverUrl === undefined ? {} : { endpoint: f.receiverUrl }), service_name: serviceName, sample_ratio: 1 },
      services: {
        market_data: serviceAt(f.backendUrl, { max_retries: 2 }),
        dashboard_server: serviceAt(f.backendUrl, { max_retries: 0 }),
        account_monitor: serviceAt(f.closedUrl, { max_retries: 0 })
      },
      retry: { initial_interval: "20ms", max_interval: "100ms" },
      circuit_breaker: quietBreaker,
      rate_limit: { enabled: true },
      auth: { enabled: true, jwt_secret: "tracing-suite-secret-0123456789abcdef", api_keys: [{ key: apiKey, role: "viewer", name: "tracer" }] },
      cache: { enabled: true, rules: { "/api/v1/market-data/symbols": { ttl: "30s", shared: true } } }
    },
    over
  )

/** Receiver, backend and gateway (tracedConfig with `over`) as one layer for a `layer` block. */
export const tracingGateway = (over: Doc = {}) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const receiver = yield* startTracingReceiver
      const backend = yield* startProxyBackend(scripted)
      const closedUrl = `http://127.0.0.1:${yield* freePort}`
      return makeTestGateway(tracedConfig({ receiverUrl: receiver.url, backendUrl: backend.url, closedUrl }, over)).pipe(
        Layer.merge(Layer.succeed(TracingSetup, { receiver, backend, closedUrl }))
      )
    })
  )

export const randomHex = (bytes: number): string => randomBytes(bytes).toString("hex")

/** A sampled W3C traceparent with a fresh trace id and parent span id. */
export const freshParent = (flags: "01" | "00" = "01") => {
  const traceId = randomHex(16)
  const parentSpanId = randomHex(8)
  return { traceId, parentSpanId, header: `00-${traceId}-${parentSpanId}-${flags}` }
}

let cases = 0
/** A case id the backend groups attempts by, unique within the run. */
export const newCase = (label: string): string => `${label}-${process.pid}-${++cases}`

export interface Traced {
  readonly reply: Reply
  readonly requestId: string
}

/** GET `path` through the gateway at `base` with the suite's API key, a fresh request id and `headers`. */
export const getAt = (base: string, path: string, headers: Record<string, string> = {}): Effect.Effect<Traced> => {
  const requestId = newCase("req")
  return Effect.map(
    send(`${base}${path}`, { headers: { "x-api-key": apiKey, "user-agent": userAgent, "x-request-id": requestId, ...headers } }),
    (reply) => ({ reply, requestId })
  )
}

/** GET through the test's gateway. */
export const request = (path: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(gatewayUrl, (base) => getAt(base, path, headers))

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** A traceparent a backend received, split; fails the test when it is missing or malformed. */
export const parseSent = (seen: Seen | undefined): { readonly traceId: string; readonly spanId: string; readonly flags: string; readonly header: string } => {
  const header = seen?.headers.traceparent
  const m = typeof header === "string" ? traceparentPattern.exec(header) : null
  if (m === null) throw new Error(`the backend got no valid traceparent: ${JSON.stringify(header)}`)
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]!, header: header as string }
}

/**
 * Builds a gateway from `doc` inside the caller's scope (closing that scope shuts it down,
 * which flushes its exporter); the gateway's base URL.
 */
export const buildGateway = (doc: Doc): Effect.Effect<string, never, Scope.Scope> =>
  Effect.map(Layer.build(makeTestGateway(doc)).pipe(Effect.orDie), (ctx) => `http://127.0.0.1:${Context.get(ctx, HttpListener).port}`)
