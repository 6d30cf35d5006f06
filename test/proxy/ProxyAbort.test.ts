import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Breaker } from "../../src/services/Breaker.js"
import { eventually, gatewayPort, realTime } from "../support/HttpClient.js"
import { echo, fastRetry, gatewayAfter, json, type ProxyBackend, type Respond, type Seen, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { exchange, newCase, rawOpen } from "../support/ProxyClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

class Backend extends Context.Tag("test/ProxyAbort/Backend")<Backend, ProxyBackend>() {}

/**
 * `?hang=1` never answers; `?trickle=1` sends its head and then a chunk every 20 ms, never
 * ending; `?first503=1` answers its first attempt 503, then hangs; else echo.
 */
const respond: Respond = (req, res, seen) => {
  const query = new URL(req.url ?? "/", "http://b").searchParams
  if (query.get("hang") === "1") return
  if (query.get("trickle") === "1") {
    res.writeHead(200, { "content-type": "text/plain" })
    res.write("first chunk\n")
    const timer = setInterval(() => res.write("more\n"), 20)
    res.on("close", () => clearInterval(timer))
    return
  }
  if (query.get("first503") === "1") return seen.attempt === 0 ? json(res, 503, { busy: true }) : undefined
  echo(req, res, seen)
}

const Gateway = gatewayAfter(Backend, startProxyBackend(respond), (b) => ({
  services: {
    market_data: serviceAt(b.url, { timeout: "10s", max_retries: 2 }),
    strategy_engine: serviceAt(b.url, { timeout: "10s", max_retries: 0 })
  },
  retry: fastRetry,
  // one counted failure would open it: a client abort must not count
  circuit_breaker: { min_requests: 1, failure_ratio: 0.5, timeout: "30s" }
}))

/** Waits (bounded) until the backend holds the case's first request. */
const arrived = (id: string) =>
  eventually(Effect.flatMap(Backend, (b) => Effect.sync((): Seen => {
    const seen = b.ofCase(id)[0]
    assert.isDefined(seen, `the backend has not seen ${id} yet`)
    return seen!
  })), { timeoutMs: 2_000 })

/** Waits (bounded) until the backend's response for `seen` closed unfinished; returns when. */
const cut = (seen: Seen, withinMs: number) =>
  eventually(Effect.sync(() => {
    assert.isDefined(seen.abortedAt, "the backend's request was not closed")
    return seen.abortedAt!
  }), { timeoutMs: withinMs })

const rawGet = (target: string) => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`

describe("Proxy", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("closes the backend's request when the client disconnects (raw socket closed)", () =>
      Effect.gen(function* () {
        const id = newCase("raw")
        const socket = yield* rawOpen(yield* gatewayPort, rawGet(`/api/v1/market-data/symbols?hang=1&case=${id}`))
        const seen = yield* arrived(id)
        const gone = performance.now()
        socket.destroy()
        const closedAt = yield* cut(seen, 2_000)
        assert.isBelow(closedAt - gone, 1_500, "the upstream request is cut promptly")
      }))

    it.effect("stops reading the backend's response when the client disconnects mid-body", () =>
      Effect.gen(function* () {
        const id = newCase("midbody")
        const socket = yield* rawOpen(yield* gatewayPort, rawGet(`/api/v1/strategies?trickle=1&case=${id}`))
        // the head and the first chunk have come through the gateway
        const received = yield* Effect.async<string>((resume) => {
          let text = ""
          socket.on("data", (chunk: Buffer) => {
            text += chunk.toString()
            if (text.includes("first chunk")) resume(Effect.succeed(text))
          })
        }).pipe(Effect.timeout("2 seconds"))
        assert.match(received, /^HTTP\/1\.1 200 /)
        const seen = yield* arrived(id)
        assert.isUndefined(seen.abortedAt, "still streaming before the client leaves")
        const gone = performance.now()
        socket.destroy()
        const closedAt = yield* cut(seen, 2_000)
        assert.isBelow(closedAt - gone, 1_500, "the backend's response is cut promptly")
      }))

    it.effect("closes the backend's request when a fetch is aborted", () =>
      Effect.gen(function* () {
        const id = newCase("fetch")
        const controller = new AbortController()
        const fiber = yield* Effect.fork(exchange(`${yield* gatewayUrl}/api/v1/market-data/symbols?hang=1&case=${id}`, { signal: controller.signal }))
        const seen = yield* arrived(id)
        controller.abort()
        const outcome = yield* Fiber.join(fiber)
        assert.isDefined(outcome.failed, "the aborted fetch did not complete")
        yield* cut(seen, 2_000)
      }))

    it.effect("does not retry, and does not count as a breaker failure, a request whose client left", () =>
      Effect.gen(function* () {
        const id = newCase("no-retry")
        const socket = yield* rawOpen(yield* gatewayPort, rawGet(`/api/v1/market-data/symbols?hang=1&case=${id}`))
        const seen = yield* arrived(id)
        socket.destroy()
        yield* cut(seen, 2_000)
        // longer than every backoff of the three attempts (at most 1.2 × (20 + 40) ms)
        yield* Effect.sleep("250 millis")
        assert.strictEqual((yield* Backend).ofCase(id).length, 1, "an aborted request is never retried")
        const view = (yield* (yield* Breaker).view).find((v) => v.service === "market_data")!
        assert.strictEqual(view.state, "closed")
        assert.strictEqual(view.counts.totalFailures, 0, "a client abort is neither success nor failure")
        const next = yield* exchange(`${yield* gatewayUrl}/api/v1/market-data/symbols`)
        assert.strictEqual(next.status, 200, "the breaker (min_requests 1) did not open")
      }))

    it.effect("cuts a streamed upload upstream when the client leaves mid-body", () =>
      Effect.gen(function* () {
        const id = newCase("upload")
        const socket = yield* rawOpen(
          yield* gatewayPort,
          `POST /api/v1/strategies?case=${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
            `Content-Length: 10000\r\n\r\n{"name":"partial`
        )
        const seen = yield* arrived(id)
        socket.destroy()
        yield* cut(seen, 2_000)
        assert.isUndefined(seen.body, "the backend never got a complete body")
      }))

    it.effect("keeps serving after clients left", () =>
      Effect.gen(function* () {
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/market-data/symbols`)
        assert.strictEqual(res.status, 200)
      }))
  })

  class Patient extends Context.Tag("test/ProxyAbort/Patient")<Patient, ProxyBackend>() {}

  // a long backoff, so the client can leave while the gateway waits to retry
  const backoffMs = 400
  layer(
    gatewayAfter(Patient, startProxyBackend(respond), (b) => ({
      services: { market_data: serviceAt(b.url, { timeout: "2s", max_retries: 2 }) },
      retry: { initial_interval: `${backoffMs}ms`, max_interval: "1s" },
      circuit_breaker: { min_requests: 1000 }
    })),
    realTime
  )((it) => {
    it.effect("starts no further attempt once the client left during the retry backoff", () =>
      Effect.gen(function* () {
        const backend = yield* Patient
        const id = newCase("backoff")
        const socket = yield* rawOpen(yield* gatewayPort, rawGet(`/api/v1/market-data/symbols?first503=1&case=${id}`))
        yield* eventually(Effect.sync(() => assert.strictEqual(backend.ofCase(id).length, 1)), { timeoutMs: 2_000 })
        socket.destroy() // the 503 arrived; the gateway now waits 320–480 ms before retrying
        // past the longest backoff: any retry would have reached the backend by now
        yield* Effect.sleep(`${Math.ceil(1.2 * backoffMs) + 400} millis`)
        const seen = backend.ofCase(id)
        assert.strictEqual(seen.length, 1, seen.length > 1
          ? `a retry reached the backend after the client left${seen[1]!.abortedAt === undefined ? " and is still running" : ""}`
          : "")
      }))
  })
})
