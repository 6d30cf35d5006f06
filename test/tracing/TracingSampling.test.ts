import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { CapturedLogs } from "../support/CapturingSink.js"
import { realTime } from "../support/HttpClient.js"
import { startProxyBackend } from "../support/ProxyBackend.js"
import {
  buildGateway,
  freshParent,
  getAt,
  newCase,
  parseSent,
  request,
  scripted,
  tracedConfig,
  tracingGateway,
  TracingSetup
} from "../support/TracingGateway.js"
import { Receiver, ReceiverLive, serverSpanOf, type TracingReceiver, waitForTrace } from "../support/TracingReceiver.js"

const tickerPath = "/api/v1/market-data/ticker/ETH-USD"

/**
 * A sampled request sent after the ones under test: once its server span arrived, every
 * span that ended before it has too (the batch processor exports in the order spans end),
 * so "no span of trace X" is then a fact, not a guess after a sleep.
 */
const marker = (receiver: TracingReceiver) =>
  Effect.gen(function* () {
    const parent = freshParent("01")
    const { reply } = yield* request(`${tickerPath}?case=${newCase("marker")}`, { traceparent: parent.header })
    assert.strictEqual(reply.status, 200)
    const server = serverSpanOf(yield* waitForTrace(receiver, parent.traceId))
    assert.strictEqual(server.parentSpanId, parent.parentSpanId, "a sampled parent is followed whatever the ratio")
    return parent.traceId
  })

describe("Tracing sampling", () => {
  layer(tracingGateway(), realTime)((it) => {
    it.effect("an unsampled incoming traceparent exports no span; the backend gets its trace id with flags 00", () =>
      Effect.gen(function* () {
        const { backend, receiver } = yield* TracingSetup
        const parent = freshParent("00")
        const id = newCase("unsampled")
        const { reply, requestId } = yield* request(`${tickerPath}?case=${id}`, { traceparent: parent.header })
        assert.strictEqual(reply.status, 200)
        const sent = parseSent(backend.ofCase(id)[0])
        assert.strictEqual(sent.traceId, parent.traceId, "the client's trace id")
        assert.notStrictEqual(sent.spanId, parent.parentSpanId, "a new span id")
        assert.strictEqual(sent.flags, "00", "still unsampled")
        yield* marker(receiver)
        assert.deepStrictEqual(receiver.trace(parent.traceId), [])
        const line = (yield* CapturedLogs).find((l) => l.message === "HTTP request" && l.fields.request_id === requestId)
        assert.strictEqual(line?.fields.trace_id, parent.traceId, "the access log names the trace sent upstream")
      }))

    it.effect("an invalid traceparent (all-zero trace id) is not continued: a new sampled trace starts", () =>
      Effect.gen(function* () {
        const { backend, receiver } = yield* TracingSetup
        const invalid = `00-${"0".repeat(32)}-${freshParent().parentSpanId}-01`
        const id = newCase("invalid")
        const { reply } = yield* request(`${tickerPath}?case=${id}`, { traceparent: invalid })
        assert.strictEqual(reply.status, 200)
        const sent = parseSent(backend.ofCase(id)[0])
        assert.notMatch(sent.traceId, /^0+$/)
        const server = serverSpanOf(yield* waitForTrace(receiver, sent.traceId))
        assert.isUndefined(server.parentSpanId, "a root span")
      }))
  })

  layer(tracingGateway({ tracing: { sample_ratio: 0 } }), realTime)((it) => {
    it.effect("sample_ratio 0 exports no span for requests without a traceparent, which still get one upstream", () =>
      Effect.gen(function* () {
        const { backend, receiver } = yield* TracingSetup
        const ids = [newCase("ratio0"), newCase("ratio0"), newCase("ratio0")]
        for (const id of ids) assert.strictEqual((yield* request(`${tickerPath}?case=${id}`)).reply.status, 200)
        const sent = ids.map((id) => parseSent(backend.ofCase(id)[0]))
        assert.strictEqual(new Set(sent.map((s) => s.traceId)).size, ids.length, "a new trace each")
        for (const s of sent) {
          assert.notMatch(s.traceId, /^0+$/)
          assert.strictEqual(s.flags, "00", "not sampled")
        }
        const markerTrace = yield* marker(receiver)
        for (const s of sent) assert.deepStrictEqual(receiver.trace(s.traceId), [])
        assert.deepStrictEqual([...new Set(receiver.spans.map((s) => s.traceId))], [markerTrace], "only the marker's trace")
      }))
  })

  layer(ReceiverLive, realTime)((it) => {
    /** One request through a gateway built for `over`, then shut down (which would flush an exporter). */
    const throughGateway = (receiver: TracingReceiver, over: Record<string, unknown>, withEndpoint: boolean) =>
      Effect.scoped(
        Effect.gen(function* () {
          const backend = yield* startProxyBackend(scripted)
          const base = yield* buildGateway(
            tracedConfig({ receiverUrl: withEndpoint ? receiver.url : undefined, backendUrl: backend.url, closedUrl: backend.url }, over)
          )
          const id = newCase("disabled")
          const sampled = freshParent("01")
          const fresh = yield* getAt(base, `${tickerPath}?case=${id}`)
          const continued = yield* getAt(base, `${tickerPath}?case=${id}`, { traceparent: sampled.header })
          assert.strictEqual(fresh.reply.status, 200)
          assert.strictEqual(continued.reply.status, 200)
          const [first, second] = backend.ofCase(id).map((seen) => parseSent(seen))
          assert.notMatch(first!.traceId, /^0+$/, "a new trace")
          assert.strictEqual(second!.traceId, sampled.traceId, "the client's trace id")
          assert.notStrictEqual(second!.spanId, sampled.parentSpanId, "a new span id")
        })
      )

    it.effect("features.enable_tracing false: nothing reaches the receiver, the backend still gets a traceparent", () =>
      Effect.gen(function* () {
        const receiver = yield* Receiver
        const before = receiver.posts.length
        yield* throughGateway(receiver, { features: { enable_tracing: false } }, true)
        assert.strictEqual(receiver.posts.length, before, "no request reached the receiver, even at shutdown")
      }))

    it.effect("no tracing.endpoint: tracing stays off, nothing is exported, the backend still gets a traceparent", () =>
      Effect.gen(function* () {
        const receiver = yield* Receiver
        const before = receiver.posts.length
        yield* throughGateway(receiver, {}, false)
        assert.strictEqual(receiver.posts.length, before)
      }))
  })
})
