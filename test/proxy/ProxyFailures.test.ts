import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { freePort } from "../support/HttpBackend.js"
import { eventually, realTime } from "../support/HttpClient.js"
import { assertErrorReply } from "../support/HttpErrors.js"
import {
  fastRetry, gatewayAfter, garbageOnConnection, hang, type ProxyBackend, quietBreaker, type RawBackend, resetMidBody, serviceAt,
  startProxyBackend, startRawBackend
} from "../support/ProxyBackend.js"
import { errorReplyOf, exchange, metricValue, newCase } from "../support/ProxyClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

interface Backends {
  readonly closedUrl: string
  readonly hanging: ProxyBackend
  readonly garbage: RawBackend
  readonly reset: RawBackend
}
class Fixture extends Context.Tag("test/ProxyFailures/Backends")<Fixture, Backends>() {}

const acquire = Effect.gen(function* () {
  return {
    closedUrl: `http://127.0.0.1:${yield* freePort}`,
    hanging: yield* startProxyBackend(hang),
    garbage: yield* startRawBackend(garbageOnConnection),
    reset: yield* startRawBackend(resetMidBody(100_000, 4_096))
  }
})

const Gateway = gatewayAfter(Fixture, acquire, (b) => ({
  services: {
    market_data: serviceAt(b.closedUrl),
    order_execution: serviceAt(b.closedUrl),
    strategy_engine: serviceAt(b.hanging.url, { timeout: "300ms" }),
    account_monitor: serviceAt(b.garbage.url),
    dashboard_server: serviceAt(b.reset.url)
  },
  retry: fastRetry,
  circuit_breaker: quietBreaker
}))

const upstreamAttempts = (service: string, method: string) =>
  Effect.flatMap(gatewayUrl, (base) =>
    metricValue(base, "api_gateway_upstream_requests_total", "api_gateway_upstream_requests_total", { service, method, status: "error" }))

const upstreamErrors = (service: string, errorType: string) =>
  Effect.flatMap(gatewayUrl, (base) =>
    metricValue(base, "api_gateway_upstream_errors_total", "api_gateway_upstream_errors_total", { service, error_type: errorType }))

// max_retries 2, backoff 20 ms then 40 ms, each at least 0.8 of it
const minimumBackoffMs = 0.8 * (20 + 40)

describe("Proxy", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("answers 502 Bad gateway when the backend refuses connections, after retrying with backoff", () =>
      Effect.gen(function* () {
        const before = yield* upstreamAttempts("market_data", "GET")
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/market-data/symbols`)
        assertErrorReply(errorReplyOf(res), 502, "Bad gateway")
        assert.isAtLeast(res.elapsedMs, minimumBackoffMs, "the retries waited for the backoff")
        assert.isBelow(res.elapsedMs, 2_000, "a refused connection fails fast")
        assert.strictEqual((yield* upstreamAttempts("market_data", "GET")) - before, 3, "1 + max_retries attempts")
      }))

    it.effect("retries a POST whose connection was refused (never sent), then answers 502", () =>
      Effect.gen(function* () {
        const before = yield* upstreamAttempts("order_execution", "POST")
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/orders`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{\"symbol\":\"BTC\"}"
        })
        assertErrorReply(errorReplyOf(res), 502, "Bad gateway")
        assert.isAtLeast(res.elapsedMs, minimumBackoffMs)
        assert.strictEqual((yield* upstreamAttempts("order_execution", "POST")) - before, 3, "never sent is retryable")
      }))

    it.effect("answers 504 Gateway timeout for a backend slower than the service timeout, aborting each attempt", () =>
      Effect.gen(function* () {
        const { hanging } = yield* Fixture
        const id = newCase("hang-get")
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/strategies/7?case=${id}`)
        assertErrorReply(errorReplyOf(res), 504, "Gateway timeout")
        assert.strictEqual(hanging.ofCase(id).length, 3, "a timed-out GET is retried")
        assert.isAtLeast(res.elapsedMs, 3 * 300, "three attempts of 300 ms")
        assert.isBelow(res.elapsedMs, 3 * 300 + 2_000)
        // the gateway hung up on each attempt: the backend's response closed unfinished
        yield* eventually(Effect.sync(() => {
          for (const s of hanging.ofCase(id)) assert.isDefined(s.abortedAt, `attempt ${s.attempt + 1} was not aborted`)
        }), { timeoutMs: 2_000 })
      }))

    it.effect("does not retry a POST that timed out (it was sent), and aborts it upstream", () =>
      Effect.gen(function* () {
        const { hanging } = yield* Fixture
        const id = newCase("hang-post")
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/strategies/7/start?case=${id}`, { method: "POST" })
        assertErrorReply(errorReplyOf(res), 504, "Gateway timeout")
        assert.isAtLeast(res.elapsedMs, 300)
        assert.isBelow(res.elapsedMs, 300 + 1_500)
        assert.strictEqual(hanging.ofCase(id).length, 1)
        yield* eventually(Effect.sync(() => assert.isDefined(hanging.ofCase(id)[0]!.abortedAt)), { timeoutMs: 2_000 })
      }))

    it.effect("answers 502 for a backend that sends bytes that are not HTTP, after retrying the GET", () =>
      Effect.gen(function* () {
        const { garbage } = yield* Fixture
        const before = garbage.connections()
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/account/balance`)
        assertErrorReply(errorReplyOf(res), 502, "Bad gateway")
        assert.strictEqual(garbage.connections() - before, 3, "1 + max_retries attempts")
      }))

    it.effect("aborts the client's connection when the backend resets after its headers, counted as reset", () =>
      Effect.gen(function* () {
        const { reset } = yield* Fixture
        const before = yield* upstreamErrors("dashboard_server", "reset")
        const connections = reset.connections()
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/dashboard/status`)
        assert.strictEqual(res.status, 200, "the backend's head was passed on")
        assert.isDefined(res.failed, "the client must not see a complete response")
        assert.strictEqual(res.failed?.stage, "body")
        assert.isBelow(res.body.length, 100_000)
        assert.notInclude(res.text, "Bad gateway", "no second status")
        assert.strictEqual(reset.connections() - connections, 1, "no retry once the head was passed on")
        yield* eventually(Effect.gen(function* () {
          assert.strictEqual((yield* upstreamErrors("dashboard_server", "reset")) - before, 1)
        }), { timeoutMs: 2_000 })
      }))

    it.effect("keeps serving after refused, hung, garbage and reset backends", () =>
      Effect.gen(function* () {
        const res = yield* exchange(`${yield* gatewayUrl}/health/liveness`)
        assert.strictEqual(res.status, 200)
        assert.deepStrictEqual(res.json, { status: "alive" })
      }))
  })

  class Slow extends Context.Tag("test/ProxyFailures/Slow")<Slow, ProxyBackend>() {}

  const writeTimeoutMs = 500
  layer(
    gatewayAfter(Slow, startProxyBackend(hang), (b) => ({
      server: { write_timeout: `${writeTimeoutMs}ms` },
      services: { market_data: serviceAt(b.url, { timeout: "2s", max_retries: 2 }) },
      retry: fastRetry,
      circuit_breaker: quietBreaker
    })),
    realTime
  )((it) => {
    it.effect("answers 504 at the request deadline (write_timeout), before the service timeout, and starts no retry after it", () =>
      Effect.gen(function* () {
        const backend = yield* Slow
        const id = newCase("deadline")
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/market-data/ticker/BTC?case=${id}`)
        assertErrorReply(errorReplyOf(res), 504, "Gateway timeout")
        assert.isAtLeast(res.elapsedMs, writeTimeoutMs - 50)
        assert.isBelow(res.elapsedMs, writeTimeoutMs + 1_000, "cut at the deadline, not at the 2 s service timeout")
        assert.strictEqual(backend.ofCase(id).length, 1, "no attempt starts after the deadline")
        yield* eventually(Effect.sync(() => assert.isDefined(backend.ofCase(id)[0]!.abortedAt)), { timeoutMs: 2_000 })
      }))
  })
})
