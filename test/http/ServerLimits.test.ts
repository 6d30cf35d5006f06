import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { gatewayPort, rawExchange, rawRequest, realTime, send, type RawReply } from "../support/HttpClient.js"
import { assertErrorReply, fromRaw } from "../support/HttpErrors.js"
import { gatewayUrl, makeTestGateway } from "../support/TestGateway.js"

const readTimeoutMs = 300

/** SPEC §6: the §4 answer (a 4xx) or a closed connection, never a 5xx. */
const assertRefusedOrClosed = (reply: RawReply, what: string) => {
  assert.isFalse(reply.timedOut, `${what}: the gateway neither answered nor closed`)
  if (reply.status === undefined) {
    assert.isTrue(reply.closed, `${what}: no status and the connection is still open`)
    return
  }
  assert.isBelow(reply.status, 500, `${what}: got ${reply.status}`)
  assert.strictEqual(reply.status, 400, `${what}: got ${reply.raw.slice(0, 120)}`)
  assertErrorReply(fromRaw(reply), 400, "Bad request")
}

const stillServes = Effect.gen(function* () {
  const res = yield* send(`${yield* gatewayUrl}/health/liveness`)
  assert.strictEqual(res.status, 200)
  assert.deepStrictEqual(res.json, { status: "alive" })
})

describe("ServerLimits", () => {
  layer(makeTestGateway({ server: { max_header_bytes: 8192, read_timeout: `${readTimeoutMs}ms` } }), realTime)((it) => {
    it.effect("answers a request head over max_header_bytes with a JSON 431, then keeps serving", () =>
      Effect.gen(function* () {
        const reply = yield* rawExchange(
          yield* gatewayPort,
          rawRequest("GET /health/liveness HTTP/1.1", [`X-Big: ${"a".repeat(16 * 1024)}`])
        )
        assertErrorReply(fromRaw(reply), 431, "Request header fields too large")
        assert.match(reply.headers["content-type"] ?? "", /^application\/json/)
        yield* stillServes
      }))

    it.effect("serves a head just under max_header_bytes", () =>
      Effect.gen(function* () {
        const reply = yield* rawExchange(
          yield* gatewayPort,
          rawRequest("GET /health/liveness HTTP/1.1", [`X-Big: ${"a".repeat(6 * 1024)}`])
        )
        assert.strictEqual(reply.status, 200)
      }))

    it.effect("answers a client that stalls after the request line with 408 within read_timeout", () =>
      Effect.gen(function* () {
        const reply = yield* rawExchange(yield* gatewayPort, "GET /health/liveness HTTP/1.1\r\n", { timeoutMs: 3_000 })
        assert.isFalse(reply.timedOut, "no answer within 3 s")
        assertErrorReply(fromRaw(reply), 408, "Request timeout")
        assert.isAtLeast(reply.elapsedMs, readTimeoutMs - 50, "not before read_timeout")
        assert.isBelow(reply.elapsedMs, readTimeoutMs + 1_500, "within read_timeout plus slack")
        yield* stillServes
      }))

    it.effect("answers a client that stalls in the middle of its headers with 408", () =>
      Effect.gen(function* () {
        const reply = yield* rawExchange(yield* gatewayPort, "GET /health/liveness HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", { timeoutMs: 3_000 })
        assert.isFalse(reply.timedOut, "no answer within 3 s")
        assertErrorReply(fromRaw(reply), 408, "Request timeout")
      }))

    it.effect("refuses malformed request lines with 400 or a closed connection, never a 5xx, and keeps serving", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        for (const payload of ["GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "G\x00T / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 extra\r\n\r\n"]) {
          assertRefusedOrClosed(yield* rawExchange(port, payload), JSON.stringify(payload))
        }
        yield* stillServes
      }))

    it.effect("refuses a request line without an HTTP version (HTTP/0.9 style) with 400 or a closed connection", () =>
      Effect.gen(function* () {
        const reply = yield* rawExchange(yield* gatewayPort, "GET /health/liveness\r\n\r\n")
        assertRefusedOrClosed(reply, "a request line without HTTP-version")
        yield* stillServes
      }))

    it.effect("refuses malformed header lines with 400 or a closed connection", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        for (const header of ["No-Colon-Here", "Bad Name: x", "X-Ctl: a\x01b"]) {
          assertRefusedOrClosed(yield* rawExchange(port, rawRequest("GET /health/liveness HTTP/1.1", [header])), header)
        }
        yield* stillServes
      }))

    it.effect("refuses Content-Length together with Transfer-Encoding with 400 or a closed connection", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        const smuggle =
          "POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4\r\n" +
          "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health/liveness HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        const reply = yield* rawExchange(port, smuggle)
        assertRefusedOrClosed(reply, "Content-Length with Transfer-Encoding")
        assert.notInclude(reply.raw, "\"alive\"", "the smuggled request must not be served")
        yield* stillServes
      }))

    it.effect("refuses conflicting Content-Length headers with 400 or a closed connection", () =>
      Effect.gen(function* () {
        const reply = yield* rawExchange(
          yield* gatewayPort,
          rawRequest("POST /api/v1/orders HTTP/1.1", ["Content-Type: application/json", "Content-Length: 2", "Content-Length: 20"]) + "{}"
        )
        assertRefusedOrClosed(reply, "two Content-Length values")
        yield* stillServes
      }))
  })
})
