import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { realTime } from "../support/HttpClient.js"
import { startProxyBackend } from "../support/ProxyBackend.js"
import { buildGateway, freshParent, getAt, newCase, parseSent, scripted, tracedConfig } from "../support/TracingGateway.js"
import { childrenOf, Receiver, ReceiverLive, serverSpanOf, startTracingReceiver } from "../support/TracingReceiver.js"

describe("Tracing shutdown", () => {
  layer(ReceiverLive, realTime)((it) => {
    it.effect("closing the gateway flushes the spans still waiting for their batch", () =>
      Effect.gen(function* () {
        const receiver = yield* Receiver
        const parent = freshParent("01")
        const id = newCase("flush")
        const sent = yield* Effect.scoped(
          Effect.gen(function* () {
            const backend = yield* startProxyBackend(scripted)
            const base = yield* buildGateway(tracedConfig({ receiverUrl: receiver.url, backendUrl: backend.url, closedUrl: backend.url }))
            const { reply } = yield* getAt(base, `/api/v1/market-data/ticker/SOL?case=${id}`, { traceparent: parent.header })
            assert.strictEqual(reply.status, 200)
            return parseSent(backend.ofCase(id)[0])
          })
        ) // the gateway's scope closes here, well before the ~500 ms batch delay

        // no poll: the layer's release awaited the flush, and the receiver records before answering
        const spans = receiver.trace(parent.traceId)
        assert.isAbove(spans.length, 0, "the spans of the last request were exported when the gateway closed")
        const server = serverSpanOf(spans)
        assert.strictEqual(server.name, "GET /api/v1/market-data/ticker/:symbol")
        assert.strictEqual(server.parentSpanId, parent.parentSpanId)
        const names = childrenOf(spans, server).map((s) => s.name).sort()
        assert.deepStrictEqual(names, ["authenticate", "rate limit", "upstream market_data"])
        const upstream = childrenOf(spans, server).find((s) => s.name === "upstream market_data")!
        assert.strictEqual(sent.spanId, upstream.spanId)
      }))

    it.effect("closing a gateway that served nothing exports nothing and does not hang", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const receiver = yield* startTracingReceiver // its own: a late export of another test cannot land here
          const started = performance.now()
          yield* Effect.scoped(
            Effect.gen(function* () {
              const backend = yield* startProxyBackend(scripted)
              yield* buildGateway(tracedConfig({ receiverUrl: receiver.url, backendUrl: backend.url, closedUrl: backend.url }))
            })
          )
          assert.isBelow(performance.now() - started, 3_000, "start and stop well within the exporter's shutdown timeout")
          assert.deepStrictEqual(receiver.spans, [])
          assert.deepStrictEqual(receiver.problems, [])
        })
      ))
  })
})
