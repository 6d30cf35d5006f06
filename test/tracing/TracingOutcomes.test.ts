import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { realTime } from "../support/HttpClient.js"
import { apiKey, freshParent, newCase, parseSent, request, tracingGateway, TracingSetup } from "../support/TracingGateway.js"
import { childrenOf, type ExportedSpan, serverSpanOf, waitForTrace } from "../support/TracingReceiver.js"

/** One GET carrying a fresh sampled traceparent; the reply and the trace it exported. */
const tracedGet = (path: string, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const { receiver } = yield* TracingSetup
    const parent = freshParent("01")
    const { reply } = yield* request(path, { traceparent: parent.header, ...headers })
    const spans = yield* waitForTrace(receiver, parent.traceId)
    const server = serverSpanOf(spans)
    return { reply, spans, server, children: childrenOf(spans, server) }
  })

const upstreamSpans = (children: ReadonlyArray<ExportedSpan>) =>
  children.filter((s) => s.name.startsWith("upstream")).sort((a, b) => Number(a.attributes["gateway.attempt"]) - Number(b.attributes["gateway.attempt"]))

describe("Tracing outcomes", () => {
  layer(tracingGateway(), realTime)((it) => {
    it.effect("a retried request has one upstream span per attempt, the failed one with error status", () =>
      Effect.gen(function* () {
        const { backend, receiver } = yield* TracingSetup
        const id = newCase("retry")
        const { reply } = yield* request(`/api/v1/market-data/ticker/ETH?case=${id}&script=503,200`)
        assert.strictEqual(reply.status, 200)
        const seen = backend.ofCase(id)
        assert.strictEqual(seen.length, 2, "503, then 200")
        const [first, second] = seen.map((s) => parseSent(s))
        assert.strictEqual(first!.traceId, second!.traceId, "both attempts belong to the request's trace")
        const spans = yield* waitForTrace(receiver, first!.traceId)
        const server = serverSpanOf(spans)
        const upstream = upstreamSpans(childrenOf(spans, server))
        assert.deepStrictEqual(upstream.map((s) => s.name), ["upstream market_data", "upstream market_data"])
        assert.deepStrictEqual(upstream.map((s) => s.attributes["gateway.attempt"]), [1, 2])
        assert.deepStrictEqual(upstream.map((s) => s.kind), [3, 3])
        assert.strictEqual(upstream[0]!.status.code, 2, "the 503 attempt failed")
        assert.notStrictEqual(upstream[1]!.status.code, 2, "the 200 attempt did not")
        assert.strictEqual(first!.spanId, upstream[0]!.spanId, "attempt 1's traceparent names attempt 1's span")
        assert.strictEqual(second!.spanId, upstream[1]!.spanId, "attempt 2's traceparent names attempt 2's span")
        assert.strictEqual(server.attributes["http.response.status_code"], 200)
        assert.strictEqual(server.status.code, 0, "the request succeeded")
      }))

    it.effect("a 502 from the gateway (closed port) marks the server span with error status", () =>
      Effect.gen(function* () {
        const { reply, server, children } = yield* tracedGet("/api/v1/account/balance")
        assert.strictEqual(reply.status, 502)
        assert.strictEqual(server.name, "GET /api/v1/account/balance")
        assert.strictEqual(server.attributes["http.route"], "/api/v1/account/balance")
        assert.strictEqual(server.attributes["http.response.status_code"], 502)
        assert.strictEqual(server.status.code, 2, "StatusCode ERROR on a 5xx")
        const upstream = upstreamSpans(children)
        assert.deepStrictEqual(upstream.map((s) => s.name), ["upstream account_monitor"], "max_retries 0: one attempt")
        assert.strictEqual(upstream[0]!.status.code, 2, "the refused attempt failed")
      }))

    it.effect("a 404 for an unknown path: server span named by the method alone, no route, status unset", () =>
      Effect.gen(function* () {
        const { reply, server, children } = yield* tracedGet("/api/v1/no-such-thing/42")
        assert.strictEqual(reply.status, 404)
        assert.strictEqual(server.name, "GET")
        assert.notProperty(server.attributes, "http.route")
        assert.strictEqual(server.attributes["http.response.status_code"], 404)
        assert.strictEqual(server.attributes["url.path"], "/api/v1/no-such-thing/42")
        assert.strictEqual(server.status.code, 0, "a 4xx is not a server error")
        assert.deepStrictEqual(upstreamSpans(children), [])
      }))

    it.effect("a 401 (unknown API key) leaves the server span's status unset", () =>
      Effect.gen(function* () {
        const { reply, server, children } = yield* tracedGet(`/api/v1/market-data/ticker/BTC?case=${newCase("401")}`, {
          "x-api-key": `${apiKey}-wrong`
        })
        assert.strictEqual(reply.status, 401)
        assert.strictEqual(server.name, "GET /api/v1/market-data/ticker/:symbol")
        assert.strictEqual(server.attributes["http.response.status_code"], 401)
        assert.strictEqual(server.status.code, 0)
        assert.isDefined(children.find((s) => s.name === "authenticate"))
        assert.deepStrictEqual(upstreamSpans(children), [], "refused before the proxy")
      }))

    it.effect("a cache hit has a cache lookup span and no upstream span", () =>
      Effect.gen(function* () {
        const { backend } = yield* TracingSetup
        const id = newCase("cache")
        const path = `/api/v1/market-data/symbols?case=${id}`
        const miss = yield* tracedGet(path)
        assert.strictEqual(miss.reply.status, 200)
        assert.strictEqual(miss.reply.headers.get("x-cache"), "MISS")
        assert.deepStrictEqual(miss.children.map((s) => s.name).sort(), ["authenticate", "cache lookup", "rate limit", "upstream market_data"])

        const hit = yield* tracedGet(path)
        assert.strictEqual(hit.reply.status, 200)
        assert.strictEqual(hit.reply.headers.get("x-cache"), "HIT")
        assert.strictEqual(backend.ofCase(id).length, 1, "the hit did not reach the backend")
        assert.strictEqual(hit.server.name, "GET /api/v1/market-data/symbols")
        assert.strictEqual(hit.server.attributes["http.response.status_code"], 200)
        assert.deepStrictEqual(hit.children.map((s) => s.name).sort(), ["authenticate", "cache lookup", "rate limit"])
        assert.deepStrictEqual(upstreamSpans(hit.spans), [], "no upstream span anywhere in the trace")
      }))
  })
})
