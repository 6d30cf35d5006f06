import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { gatewayWithBackends, okHandler } from "../support/HttpBackend.js"
import { gatewayPort, rawExchange, rawRequest, realTime, send } from "../support/HttpClient.js"
import { assertErrorReply, fromFetch, fromRaw } from "../support/HttpErrors.js"
import { gatewayUrl } from "../support/TestGateway.js"

// Every service points at a closed port, without retries or breakers: a request that
// passes the checks ends as a quick 502, however many came before it.
const gateway = (features: Record<string, unknown>) =>
  gatewayWithBackends({}, (_, closed) => ({
    server: { max_body_bytes: 1024 },
    circuit_breaker: { enabled: false },
    services: Object.fromEntries(
      ["market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"]
        .map((name) => [name, { url: closed, max_retries: 0 }])
    ),
    features
  }))

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const postJson = (url: string, contentType: string | undefined, body: string | Uint8Array | undefined, method = "POST") =>
  send(url, { method, ...(body === undefined ? {} : { body }), headers: contentType === undefined ? {} : { "content-type": contentType } })

describe("Validation", () => {
  layer(gateway({ enable_error_details: true }), realTime)((it) => {
    it.effect("refuses a Content-Length over server.max_body_bytes with 413 before reading the body", () =>
      Effect.gen(function* () {
        const reply = yield* rawExchange(
          yield* gatewayPort,
          rawRequest("POST /api/v1/orders HTTP/1.1", ["Content-Type: application/json", "Content-Length: 1025"])
        )
        assertErrorReply(fromRaw(reply), 413, "Request body too large", true)
      }))

    it.effect("lets a body of exactly max_body_bytes through validation", () =>
      Effect.gen(function* () {
        const body = JSON.stringify({ pad: "x".repeat(1024 - 10) })
        assert.strictEqual(Buffer.byteLength(body), 1024)
        const res = yield* postJson(`${yield* gatewayUrl}/api/v1/orders`, "application/json", body)
        assert.notStrictEqual(res.status, 413)
        assert.strictEqual(res.status, 502)
      }))

    it.effect("refuses POST, PUT and PATCH bodies that are text/plain or untyped with 415", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const cases = [
          ["POST", "/api/v1/orders", "text/plain", "{}"],
          ["POST", "/api/v1/orders", undefined, new TextEncoder().encode("{}")],
          ["PUT", "/api/v1/strategies/7", "text/plain; charset=utf-8", "{}"],
          ["PUT", "/api/v1/config/limits", undefined, new TextEncoder().encode("{}")],
          ["PATCH", "/api/v1/orders", "text/plain", "{}"]
        ] as const
        for (const [method, path, type, body] of cases) {
          const res = yield* postJson(`${base}${path}`, type, body, method)
          assert.strictEqual(res.status, 415, `${method} ${path} with ${type ?? "no type"}`)
          assertErrorReply(fromFetch(res), 415, "Unsupported content type", true)
        }
      }))

    it.effect("passes application/json, its charset form and application/*+json (then 502 without a backend)", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        for (const type of ["application/json", "application/json; charset=utf-8", "application/vnd.api+json"]) {
          const res = yield* postJson(`${base}/api/v1/orders`, type, "{}")
          assert.notStrictEqual(res.status, 415, type)
          assert.strictEqual(res.status, 502, type)
        }
        const put = yield* postJson(`${base}/api/v1/strategies/7`, "application/json", "{}", "PUT")
        assert.strictEqual(put.status, 502)
      }))

    it.effect("never answers 415 to a POST without a body, whatever its Content-Type", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const bare = yield* postJson(`${base}/api/v1/orders`, undefined, undefined)
        assert.strictEqual(bare.status, 502)
        const typed = yield* postJson(`${base}/api/v1/orders`, "text/plain", undefined)
        assert.strictEqual(typed.status, 502)
      }))

    it.effect("refuses a duplicated Authorization or X-API-Key header with 400", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        for (const name of ["Authorization", "X-API-Key"]) {
          const reply = yield* rawExchange(port, rawRequest("GET /api/v1/orders HTTP/1.1", [`${name}: one-value`, `${name}: other-value`]))
          assertErrorReply(fromRaw(reply), 400, "Bad request", true)
        }
        const single = yield* rawExchange(port, rawRequest("GET /health/liveness HTTP/1.1", ["X-API-Key: one-value"]))
        assert.strictEqual(single.status, 200)
      }))

    it.effect("refuses a request with two Host headers with 400 (RFC 9112 §3.2), even on a public endpoint", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        for (const path of ["/health/liveness", "/api/v1/orders"]) {
          const reply = yield* rawExchange(port, rawRequest(`GET ${path} HTTP/1.1`, ["host: other.example"]))
          assertErrorReply(fromRaw(reply), 400, "Bad request", true)
        }
      }))

    it.effect("refuses dot segments, encoded separators, empty segments, NUL and backslashes with 400", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        const refused = [
          "/api/v1/orders/../risk/limits",
          "/api/v1/orders/./active",
          "/api/v1/orders/%2e%2e/x",
          "/api/v1/orders/%2E%2E/risk/limits",
          "/api/v1/orders%2fx",
          "/api/v1/orders%5cx",
          "/api//v1/orders",
          "/api/v1/orders//",
          "/api/v1/orders/%00",
          "/api/v1/orders\\active",
          "/health\\liveness"
        ]
        for (const path of refused) {
          const reply = yield* rawExchange(port, rawRequest(`GET ${path} HTTP/1.1`))
          assert.strictEqual(reply.status, 400, `GET ${path} should be refused, got ${reply.raw.slice(0, 80)}`)
          assertErrorReply(fromRaw(reply), 400, "Bad request", true)
        }
      }))

    it.effect("answers 404 Not found for an unknown path", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        for (const path of ["/nope", "/api/v1/nothing/here", "/API/v1/orders"]) {
          assertErrorReply(fromFetch(yield* send(`${base}${path}`)), 404, "Not found", undefined)
        }
      }))

    it.effect("answers 405 with Allow listing the route's methods", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const liveness = yield* send(`${base}/health/liveness`, { method: "POST" })
        assertErrorReply(fromFetch(liveness), 405, "Method not allowed", undefined)
        assert.strictEqual(liveness.headers.get("allow"), "GET, HEAD")
        const orders = yield* send(`${base}/api/v1/orders`, { method: "PATCH" })
        assertErrorReply(fromFetch(orders), 405, "Method not allowed", undefined)
        const allow = (orders.headers.get("allow") ?? "").split(",").map((m) => m.trim()).sort()
        assert.deepStrictEqual(allow, ["GET", "HEAD", "POST"])
      }))

    it.effect("accepts one trailing slash as the same route, without a redirect", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const liveness = yield* send(`${base}/health/liveness/`)
        assert.strictEqual(liveness.status, 200)
        assert.deepStrictEqual(liveness.json, { status: "alive" })
        const orders = yield* send(`${base}/api/v1/orders/`)
        assert.strictEqual(orders.status, 502, "forwarded like /api/v1/orders")
        assert.isNull(orders.headers.get("location"))
        const patch = yield* send(`${base}/api/v1/orders/`, { method: "PATCH" })
        assert.strictEqual(patch.status, 405)
        assert.deepStrictEqual((patch.headers.get("allow") ?? "").split(", ").sort(), ["GET", "HEAD", "POST"])
      }))

    it.effect("keeps a valid client X-Request-ID and replaces an invalid one with a UUID", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const idOf = (id: string) => Effect.map(send(`${base}/health/liveness`, { headers: { "x-request-id": id } }), (r) => r.headers.get("x-request-id"))
        assert.strictEqual(yield* idOf("abc.DEF_1-2"), "abc.DEF_1-2")
        assert.strictEqual(yield* idOf("a".repeat(128)), "a".repeat(128))
        for (const bad of ["bad id!", "a".repeat(129), "semi;colon"]) {
          const got = yield* idOf(bad)
          assert.match(got ?? "", uuid, `${JSON.stringify(bad.slice(0, 20))} replaced by a UUID`)
        }
        const error = yield* send(`${base}/nope`, { headers: { "x-request-id": "abc.DEF_1-2" } })
        assert.strictEqual(error.json?.request_id, "abc.DEF_1-2")
      }))

    it.effect("answers GET /ws without Upgrade with 426 Upgrade required", () =>
      Effect.gen(function* () {
        const res = yield* send(`${yield* gatewayUrl}/ws`)
        assertErrorReply(fromFetch(res), 426, "Upgrade required", undefined)
      }))

    it.effect("puts details in every error body when enable_error_details is true", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        assertErrorReply(fromFetch(yield* send(`${base}/api/v1/orders`, { method: "POST", body: "x" })), 415, "Unsupported content type", true)
        assertErrorReply(fromFetch(yield* send(`${base}/api/v1/orders/1`)), 502, "Bad gateway", true)
      }))
  })

  layer(
    gatewayWithBackends({ backend: okHandler }, ({ backend }) => ({
      server: { max_body_bytes: 1024 },
      services: {
        order_execution: { url: backend.url, max_retries: 2 },
        strategy_engine: { url: backend.url, max_retries: 0 }
      }
    })),
    realTime
  )((it) => {
    it.effect("counts a chunked body without Content-Length and answers 413 past max_body_bytes, buffered or streamed", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        const chunk = JSON.stringify({ pad: "x".repeat(4096) })
        const chunked = `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`
        for (const path of ["/api/v1/orders", "/api/v1/strategies"]) {
          const reply = yield* rawExchange(
            port,
            rawRequest(`POST ${path} HTTP/1.1`, ["Content-Type: application/json", "Transfer-Encoding: chunked"]) + chunked
          )
          assertErrorReply(fromRaw(reply), 413, "Request body too large")
        }
        const small = yield* rawExchange(
          port,
          rawRequest("POST /api/v1/orders HTTP/1.1", ["Content-Type: application/json", "Transfer-Encoding: chunked"]) + "2\r\n{}\r\n0\r\n\r\n"
        )
        assert.strictEqual(small.status, 200, "a small chunked body is forwarded")
      }))
  })

  layer(gateway({ enable_error_details: false }), realTime)((it) => {
    it.effect("leaves details out of every error body when enable_error_details is false", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const port = yield* gatewayPort
        assertErrorReply(fromFetch(yield* send(`${base}/api/v1/orders`, { method: "POST", body: "x" })), 415, "Unsupported content type", false)
        assertErrorReply(fromFetch(yield* send(`${base}/api/v1/orders/1`)), 502, "Bad gateway", false)
        assertErrorReply(fromFetch(yield* send(`${base}/nope`)), 404, "Not found", false)
        assertErrorReply(fromFetch(yield* send(`${base}/health`, { method: "DELETE" })), 405, "Method not allowed", false)
        assertErrorReply(fromFetch(yield* send(`${base}/ws`)), 426, "Upgrade required", false)
        assertErrorReply(fromRaw(yield* rawExchange(port, rawRequest("GET /api//v1/orders HTTP/1.1"))), 400, "Bad request", false)
        assertErrorReply(
          fromRaw(yield* rawExchange(port, rawRequest("POST /api/v1/orders HTTP/1.1", ["Content-Type: application/json", "Content-Length: 5000"]))),
          413,
          "Request body too large",
          false
        )
      }))
  })
})
