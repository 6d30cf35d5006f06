import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { CapturedLogs } from "../support/CapturingSink.js"
import { eventually, realTime } from "../support/HttpClient.js"
import { freshParent, newCase, parseSent, request, serviceName, tracingGateway, TracingSetup, userAgent } from "../support/TracingGateway.js"
import { childrenOf, serverSpanOf, waitForTrace } from "../support/TracingReceiver.js"

const tickerPath = "/api/v1/market-data/ticker/BTC-USD"
const tickerRoute = "/api/v1/market-data/ticker/:symbol"

/** One proxied GET without a traceparent (sampled by ratio 1), and the trace it exported. */
const proxiedGet = Effect.gen(function* () {
  const { backend, receiver } = yield* TracingSetup
  const id = newCase("ticker")
  const before = Date.now()
  const { reply, requestId } = yield* request(`${tickerPath}?case=${id}`)
  const after = Date.now()
  assert.strictEqual(reply.status, 200)
  const seen = backend.ofCase(id)
  assert.strictEqual(seen.length, 1, "one attempt reached the backend")
  const sent = parseSent(seen[0])
  const spans = yield* waitForTrace(receiver, sent.traceId)
  return { id, requestId, sent, spans, server: serverSpanOf(spans), backendUrl: backend.url, before, after }
})

/** The access log line of one request, once written. */
const accessLine = (requestId: string) =>
  eventually(
    Effect.flatMap(CapturedLogs, (lines) => {
      const mine = lines.filter((l) => l.message === "HTTP request" && l.fields.request_id === requestId)
      return mine.length === 1 ? Effect.succeed(mine[0]!) : Effect.fail(`${mine.length} access log lines for ${requestId}`)
    })
  )

describe("Tracing", () => {
  layer(tracingGateway(), realTime)((it) => {
    it.effect("exports one SERVER span per request, named `METHOD /route/template`, with the stable HTTP attributes", () =>
      Effect.gen(function* () {
        const { server, spans } = yield* proxiedGet
        assert.strictEqual(spans.filter((s) => s.kind === 2).length, 1)
        assert.strictEqual(server.name, `GET ${tickerRoute}`)
        assert.strictEqual(server.kind, 2, "SpanKind SERVER")
        assert.isUndefined(server.parentSpanId, "a new trace: the server span is its root")
        const a = server.attributes
        assert.strictEqual(a["http.request.method"], "GET")
        assert.strictEqual(a["url.path"], tickerPath, "the raw path, not the template, without the query")
        assert.strictEqual(a["url.scheme"], "http")
        assert.strictEqual(a["client.address"], "127.0.0.1")
        assert.strictEqual(a["network.protocol.version"], "1.1")
        assert.strictEqual(a["user_agent.original"], userAgent)
        assert.strictEqual(a["http.response.status_code"], 200)
        assert.strictEqual(a["http.route"], tickerRoute)
        assert.strictEqual(server.status.code, 0, "a 200 leaves the status unset")
      }))

    it.effect("parents the rate limit, authenticate and upstream spans to the server span", () =>
      Effect.gen(function* () {
        const { id, server, spans, backendUrl } = yield* proxiedGet
        const children = childrenOf(spans, server)
        const names = children.map((s) => s.name).sort()
        assert.deepStrictEqual(names, ["authenticate", "rate limit", "upstream market_data"])
        for (const child of children) assert.strictEqual(child.traceId, server.traceId)
        assert.strictEqual(spans.length, 4, "nothing else in the trace")
        const upstream = children.find((s) => s.name === "upstream market_data")!
        assert.strictEqual(upstream.kind, 3, "SpanKind CLIENT")
        assert.strictEqual(upstream.attributes["gateway.service"], "market_data")
        assert.strictEqual(upstream.attributes["gateway.attempt"], 1)
        assert.strictEqual(upstream.attributes["http.request.method"], "GET")
        assert.strictEqual(upstream.attributes["url.full"], `${backendUrl}${tickerPath}?case=${id}`)
        assert.strictEqual(upstream.status.code, 0)
        for (const name of ["rate limit", "authenticate"]) {
          const step = children.find((s) => s.name === name)!
          assert.notStrictEqual(step.kind, 2, `${name} is not a server span`)
          assert.notStrictEqual(step.status.code, 2, `${name} passed`)
        }
      }))

    it.effect("times every span within the request, the steps and the attempt inside the server span", () =>
      Effect.gen(function* () {
        const { after, before, server, spans } = yield* proxiedGet
        const ms = 1_000_000n
        // the spans' clock is the monotonic one anchored at process start, Date.now() the wall
        // clock, which may have been slewed since: 50 ms of slack between the two, none inside
        for (const span of spans) {
          assert.isTrue(span.startNs >= BigInt(before - 50) * ms, `${span.name} starts after the request was sent`)
          assert.isTrue(span.endNs <= BigInt(after + 50) * ms, `${span.name} ends before the reply was read`)
          assert.isTrue(span.endNs >= span.startNs, `${span.name} ends after it starts`)
        }
        assert.isTrue(server.endNs - server.startNs <= BigInt(after - before + 2) * ms, "the server span lasts no longer than the exchange")
        for (const child of childrenOf(spans, server)) {
          assert.isTrue(child.startNs >= server.startNs && child.endNs <= server.endNs, `${child.name} lies inside the server span`)
        }
      }))

    it.effect("sends the backend a sampled traceparent naming the upstream attempt span", () =>
      Effect.gen(function* () {
        const { sent, server, spans } = yield* proxiedGet
        const upstream = childrenOf(spans, server).find((s) => s.name === "upstream market_data")!
        assert.strictEqual(sent.header, `00-${server.traceId}-${upstream.spanId}-01`)
      }))

    it.effect("exports the resource's service.name (tracing.service_name) and service.version, as OTLP JSON", () =>
      Effect.gen(function* () {
        const { spans } = yield* proxiedGet
        for (const span of spans) {
          assert.strictEqual(span.resource["service.name"], serviceName, span.name)
          assert.strictEqual(span.resource["service.version"], "1.0.0", span.name)
        }
        const { receiver } = yield* TracingSetup
        assert.isAbove(receiver.posts.length, 0)
        for (const post of receiver.posts) {
          assert.strictEqual(post.method, "POST")
          assert.strictEqual(post.path, "/v1/traces")
          assert.match(post.contentType ?? "", /^application\/json\b/, "OTLP/HTTP JSON, not protobuf")
          assert.strictEqual(post.status, 200)
        }
        assert.deepStrictEqual(receiver.problems, [])
      }))

    it.effect("continues a sampled incoming traceparent: its trace id, its span as the parent", () =>
      Effect.gen(function* () {
        const { backend, receiver } = yield* TracingSetup
        const parent = freshParent("01")
        const id = newCase("continued")
        const { reply } = yield* request(`${tickerPath}?case=${id}`, { traceparent: parent.header })
        assert.strictEqual(reply.status, 200)
        const spans = yield* waitForTrace(receiver, parent.traceId)
        const server = serverSpanOf(spans)
        assert.strictEqual(server.traceId, parent.traceId)
        assert.strictEqual(server.parentSpanId, parent.parentSpanId)
        assert.strictEqual(server.name, `GET ${tickerRoute}`)
        const upstream = childrenOf(spans, server).find((s) => s.name === "upstream market_data")
        assert.isDefined(upstream)
        assert.strictEqual(parseSent(backend.ofCase(id)[0]).header, `00-${parent.traceId}-${upstream!.spanId}-01`)
      }))

    it.effect("names the continued trace id in the access log's trace_id", () =>
      Effect.gen(function* () {
        const { receiver } = yield* TracingSetup
        const parent = freshParent("01")
        const { reply, requestId } = yield* request(`${tickerPath}?case=${newCase("logged")}`, { traceparent: parent.header })
        assert.strictEqual(reply.status, 200)
        const line = yield* accessLine(requestId)
        assert.strictEqual(line.fields.trace_id, parent.traceId)
        const server = serverSpanOf(yield* waitForTrace(receiver, parent.traceId))
        assert.strictEqual(line.fields.trace_id, server.traceId)
      }))

    it.effect("names the new trace id in the access log when the gateway started the trace", () =>
      Effect.gen(function* () {
        const { requestId, server, sent } = yield* proxiedGet
        const line = yield* accessLine(requestId)
        assert.strictEqual(line.fields.trace_id, server.traceId)
        assert.strictEqual(line.fields.trace_id, sent.traceId)
      }))
  })
})
