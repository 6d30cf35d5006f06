import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { CapturedLogs, type Captured } from "../support/CapturingSink.js"
import { backendNamed, gatewayWithBackends, okHandler } from "../support/HttpBackend.js"
import { eventually, gatewayPort, rawExchange, realTime, send } from "../support/HttpClient.js"
import { parsePrometheus, samplesOf } from "../support/HttpPrometheus.js"
import { gatewayUrl } from "../support/TestGateway.js"

const services = ["market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"]

const gateway = (over: Record<string, unknown>) =>
  gatewayWithBackends({ backend: okHandler }, ({ backend }) => ({
    services: Object.fromEntries(services.map((name) => [name, { url: backend.url, max_retries: 0 }])),
    ...over
  }))

const seedFields = ["request_id", "method", "path", "query", "status", "duration_ms", "client_ip", "user_agent", "request_size", "response_size"]

let counter = 0
const freshId = (label: string) => `${label}-${Date.now()}-${++counter}`

const accessLines = Effect.map(CapturedLogs, (lines) => lines.filter((l) => l.message === "HTTP request"))

/** The access log lines of one request id, once there is at least one. */
const linesOf = (requestId: string) =>
  eventually(
    Effect.flatMap(accessLines, (lines) => {
      const mine = lines.filter((l) => l.fields.request_id === requestId)
      return mine.length > 0 ? Effect.succeed(mine) : Effect.fail(`no access log line for ${requestId}`)
    })
  )

const request = (path: string, requestId: string, init: RequestInit = {}) =>
  Effect.flatMap(gatewayUrl, (base) =>
    send(`${base}${path}`, { ...init, headers: { "x-request-id": requestId, "user-agent": "access-log-test/1.0", ...(init.headers as Record<string, string> | undefined) } }))

const assertNowhere = (lines: ReadonlyArray<Captured>, secrets: ReadonlyArray<string>) => {
  for (const line of lines) {
    const text = JSON.stringify(line)
    for (const secret of secrets) assert.notInclude(text, secret, `a captured "${line.message}" line holds a secret`)
  }
}

describe("AccessLog", () => {
  layer(gateway({}), realTime)((it) => {
    it.effect("writes one info line per request with the seed's fields and the route", () =>
      Effect.gen(function* () {
        const id = freshId("one")
        const res = yield* request("/api/v1/account/balance?limit=100", id)
        assert.strictEqual(res.status, 200)
        const lines = yield* linesOf(id)
        assert.strictEqual(lines.length, 1)
        const { level, fields } = lines[0]!
        assert.strictEqual(level, "info")
        for (const key of seedFields) assert.property(fields, key)
        assert.strictEqual(fields.method, "GET")
        assert.strictEqual(fields.path, "/api/v1/account/balance")
        assert.strictEqual(fields.route, "/api/v1/account/balance")
        assert.strictEqual(fields.query, "limit=100")
        assert.strictEqual(fields.status, 200)
        assert.isNumber(fields.duration_ms)
        assert.isAtLeast(fields.duration_ms as number, 0)
        assert.strictEqual(fields.client_ip, "127.0.0.1")
        assert.strictEqual(fields.user_agent, "access-log-test/1.0")
        assert.strictEqual(fields.request_size, 0)
        assert.strictEqual(fields.response_size, Buffer.byteLength(res.text))
      }))

    it.effect("logs errors and request bodies too: an unmatched 404 and a POST's size", () =>
      Effect.gen(function* () {
        const missing = freshId("missing")
        yield* request("/nope/123?x=1", missing)
        const [notFound] = yield* linesOf(missing)
        assert.strictEqual(notFound!.fields.status, 404)
        assert.strictEqual(notFound!.fields.route, "unmatched")
        assert.strictEqual(notFound!.fields.path, "/nope/123")
        assert.strictEqual(notFound!.fields.query, "x=1")

        const posted = freshId("post")
        const body = JSON.stringify({ symbol: "BTC-USD", qty: 1 })
        yield* request("/api/v1/orders", posted, { method: "POST", body, headers: { "content-type": "application/json" } })
        const [post] = yield* linesOf(posted)
        assert.strictEqual(post!.fields.method, "POST")
        assert.strictEqual(post!.fields.route, "/api/v1/orders")
        assert.strictEqual(post!.fields.request_size, Buffer.byteLength(body))
      }))

    it.effect("writes exactly one line for each of several requests", () =>
      Effect.gen(function* () {
        const ids = [freshId("a"), freshId("b"), freshId("c")]
        yield* Effect.forEach(ids, (id) => request("/health/liveness", id), { concurrency: 3 })
        for (const id of ids) assert.strictEqual((yield* linesOf(id)).length, 1, id)
        yield* Effect.sleep("50 millis")
        for (const id of ids) assert.strictEqual((yield* linesOf(id)).length, 1, `${id}, a moment later`)
      }))

    it.effect("names the trace id of the traceparent sent upstream", () =>
      Effect.gen(function* () {
        const backend = yield* backendNamed("backend")
        const traceOf = (id: string) => {
          const sent = backend.requests.find((r) => r.headers["x-request-id"] === id)?.headers.traceparent
          assert.isString(sent, `the backend got a traceparent for ${id}`)
          return String(sent).split("-")[1]
        }
        const fresh = freshId("trace-new")
        yield* request("/api/v1/dashboard/status", fresh)
        const [line] = yield* linesOf(fresh)
        assert.match(String(line!.fields.trace_id), /^[0-9a-f]{32}$/)
        assert.strictEqual(line!.fields.trace_id, traceOf(fresh))

        const continued = freshId("trace-client")
        const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
        yield* request("/api/v1/dashboard/status", continued, { headers: { traceparent: `00-${clientTrace}-00f067aa0ba902b7-01` } })
        const [next] = yield* linesOf(continued)
        assert.strictEqual(next!.fields.trace_id, clientTrace)
        assert.strictEqual(traceOf(continued), clientTrace)
      }))

    it.effect("redacts token, api_key and access_token query values", () =>
      Effect.gen(function* () {
        const id = freshId("query")
        yield* request("/api/v1/orders?token=qs-secret-one&limit=5&api_key=qs-secret-two&access_token=qs-secret-three", id)
        const [line] = yield* linesOf(id)
        const query = String(line!.fields.query)
        for (const name of ["token", "api_key", "access_token"]) assert.include(query.split("&"), `${name}=REDACTED`)
        assert.include(query.split("&"), "limit=5")
        assertNowhere(yield* CapturedLogs, ["qs-secret-one", "qs-secret-two", "qs-secret-three"])
      }))

    it.effect("never logs Authorization, X-API-Key or Cookie values", () =>
      Effect.gen(function* () {
        const secrets = ["bearer-secret-7f3a9c", "api-key-secret-51be0d", "cookie-secret-c0ffee"]
        const headers = { authorization: `Bearer ${secrets[0]}`, "x-api-key": secrets[1]!, cookie: `session=${secrets[2]}` }
        const ids = [freshId("h1"), freshId("h2"), freshId("h3")]
        yield* request("/api/v1/account/balance", ids[0]!, { headers })
        yield* request("/nope", ids[1]!, { headers })
        yield* request("/health/liveness", ids[2]!, { headers })
        for (const id of ids) yield* linesOf(id)
        assertNowhere(yield* CapturedLogs, secrets)
      }))
  })

  layer(
    gateway({ auth: { enabled: true, jwt_secret: "s".repeat(40), api_keys: [{ key: "k-admin-secret-998877", role: "admin", name: "ops" }] } }),
    realTime
  )((it) => {
    it.effect("never logs a credential with auth enabled, valid or not", () =>
      Effect.gen(function* () {
        const ids = [freshId("k1"), freshId("k2"), freshId("k3")]
        yield* request("/api/v1/orders", ids[0]!, { headers: { "x-api-key": "k-admin-secret-998877" } })
        yield* request("/api/v1/orders", ids[1]!, { headers: { "x-api-key": "k-unknown-secret-112233" } })
        yield* request("/api/v1/orders", ids[2]!, { headers: { authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.bad-sig-secret-445566" } })
        for (const id of ids) yield* linesOf(id)
        assertNowhere(yield* CapturedLogs, ["k-admin-secret-998877", "k-unknown-secret-112233", "bad-sig-secret-445566"])
      }))

    it.effect("logs a request node's parser refused (400, 431) under the request id its answer carries", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        const cases = [
          ["\u0000\u0001 nonsense\r\n\r\n", 400],
          [`GET /health/liveness HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`, 431]
        ] as const
        for (const [payload, status] of cases) {
          const reply = yield* rawExchange(port, payload)
          assert.strictEqual(reply.status, status)
          const id = reply.headers["x-request-id"]!
          const [line] = yield* linesOf(id)
          assert.strictEqual(line!.fields.status, status)
          assert.strictEqual(line!.fields.route, "unmatched")
          assert.strictEqual(line!.fields.client_ip, "127.0.0.1")
          assert.strictEqual(line!.fields.response_size, Buffer.byteLength(reply.body))
          assert.isString(line!.fields.refused_by)
          assert.notInclude(JSON.stringify(line), "aaaaaaaa", "nothing of the refused head is logged")
        }
      }))
  })

  layer(gateway({ features: { enable_access_log: false } }), realTime)((it) => {
    it.effect("writes no access log lines when features.enable_access_log is false", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        yield* send(`${base}/health/liveness`)
        yield* send(`${base}/nope`)
        assert.strictEqual((yield* rawExchange(yield* gatewayPort, "\u0000\u0001 nonsense\r\n\r\n")).status, 400)
        // The metrics of a request are recorded just before its log line would be: once
        // the requests are counted, any line they would have written is there.
        yield* eventually(
          Effect.gen(function* () {
            const families = parsePrometheus((yield* send(`${base}/metrics`)).text)
            const counted = samplesOf(families.get("api_gateway_http_requests_total"), "api_gateway_http_requests_total")
            assert.isAtLeast(counted.filter((s) => ["200", "404", "400"].includes(s.labels.status ?? "")).reduce((n, s) => n + s.value, 0), 3)
          })
        )
        assert.deepStrictEqual(yield* accessLines, [])
      }))
  })
})
