// SPEC §6 and issue #9 item 5: a bug in one request answers that request 500 (JSON, its
// request_id, no stack) and harms no other; nothing a client sends crashes the process.
// In process: a fault injector (test/support/RobustDefects.ts) makes node refuse one header
// of one response, at each point where the gateway answers: synchronously in the handler,
// in a fiber's observer, in undici's callbacks, after a retry, for a coalesced cache miss.
// As a process: `node dist/gateway.mjs` (run `npm run build` first) takes a battery of hostile
// input and still logs, serves and answers /metrics.
import { assert, describe, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { connect } from "node:net"
import { serviceNames } from "../support/AuthGateway.js"
import { apiKey, apiKeys, authSection, bearer, tokenFor } from "../support/AuthTokens.js"
import { CapturedLogs } from "../support/CapturingSink.js"
import { freePort, startBackend } from "../support/HttpBackend.js"
import { realTime, send } from "../support/HttpClient.js"
import { parsePrometheus, samplesOf } from "../support/HttpPrometheus.js"
import { linesOf, spawnGateway, waitForExit, waitForReady, writeConfig } from "../support/ProcessGateway.js"
import { gatewayAfter, json, type ProxyBackend, quietBreaker, type Respond, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { exchange, newCase, type Outcome } from "../support/ProxyClient.js"
import { assertRefused, converse, floodLines, head } from "../support/RobustClient.js"
import { defectHeader, Injector, InjectorLive } from "../support/RobustDefects.js"
import { gatewayUrl } from "../support/TestGateway.js"

interface Fixture {
  readonly backend: ProxyBackend
}
class Backends extends Context.Tag("test/Defects/Backends")<Backends, Fixture>() {}

/**
 * Echoes the header the request names in X-Robust-Defect back as a response header (the
 * header node will refuse); `x-fail-first` answers a case's first attempt 503, `x-slow`
 * waits 300 ms.
 */
const respond: Respond = (req, res, seen) => {
  const named = req.headers[defectHeader]
  const extra: Record<string, string> = typeof named === "string" && named.startsWith("x-backend") ? { [named]: "from the backend" } : {}
  if (req.headers["x-fail-first"] !== undefined && seen.attempt === 0) return json(res, 503, { busy: true })
  const answer = () => json(res, 200, { ok: true, url: req.url }, extra)
  if (req.headers["x-slow"] === undefined) return answer()
  const timer = setTimeout(answer, 300)
  res.once("close", () => clearTimeout(timer))
}

const Gateway = Layer.merge(
  gatewayAfter(
    Backends,
    Effect.map(startProxyBackend(respond), (backend) => ({ backend })),
    ({ backend }) => ({
      services: {
        ...Object.fromEntries(serviceNames.map((name) => [name, serviceAt(backend.url, { max_retries: 0 })])),
        strategy_engine: serviceAt(backend.url, { max_retries: 2 }),
        configuration: serviceAt("http://127.0.0.1:9", { max_retries: 0 }) // nothing listens on the discard port
      },
      auth: authSection(),
      retry: { initial_interval: "10ms", max_interval: "20ms" },
      circuit_breaker: quietBreaker,
      cache: { enabled: true, rules: { "/api/v1/market-data/symbols": { ttl: "30s", shared: true } } },
      features: { enable_error_details: true }
    })
  ),
  InjectorLive
)

const viewer = apiKey(apiKeys.viewer)
const operator = apiKey(apiKeys.operator)

const get = (path: string, headers: Record<string, string> = {}) => Effect.flatMap(gatewayUrl, (base) => exchange(`${base}${path}`, { headers }))

/** The SPEC §4 500: exactly `error` and `request_id` (no details, however they are configured), no stack. */
const assertInternalError = (reply: Outcome, what: string) =>
  Effect.gen(function* () {
    assert.strictEqual(reply.status, 500, `${what}: ${reply.status} ${reply.text} ${reply.failed?.message ?? ""}`)
    const requestId = reply.headers.get("x-request-id")
    assert.deepStrictEqual(reply.json, { error: "Internal server error", request_id: requestId }, what)
    assert.notMatch(reply.text, /\bat .*\.(?:ts|js):\d+/, `${what}: a stack in the body`)
    assert.notInclude(reply.text, "TypeError")
    assert.match(reply.headers.get("content-type") ?? "", /^application\/json/)
    // logged once with its request id and the stack, for the operator
    const logs = yield* CapturedLogs
    const lines = logs.filter((l) => l.message === "request failed unexpectedly" && l.fields.request_id === requestId)
    assert.strictEqual(lines.length, 1, `${what}: one log line for request ${requestId}`)
    assert.strictEqual(lines[0]!.level, "error")
    assert.include(String(lines[0]!.fields.error), "Invalid character in header content")
  })

const assertNoStrayErrors = Effect.map(CapturedLogs, (logs) => {
  const stray = logs.filter((l) => l.message === "unhandled promise rejection" || l.message === "uncaught exception")
  assert.deepStrictEqual(stray.map((l) => String(l.fields.error).split("\n")[0]), [], "a defect escaped as an unhandled rejection or uncaught exception")
})

/** The defect's request, then the same request without it: 500, then 200. */
const defectThenNext = (what: string, path: string, headers: Record<string, string>, defectAt: string) =>
  Effect.gen(function* () {
    const injector = yield* Injector
    const before = injector.thrown()
    yield* assertInternalError(yield* get(path, { ...headers, [defectHeader]: defectAt }), what)
    assert.strictEqual(injector.thrown(), before + 1, `${what}: the injected defect fired`)
    const next = yield* get(path, headers)
    assert.strictEqual(next.status, 200, `${what}: the next request: ${next.text}`)
    return next
  })

describe("Defects", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("answers 500 for a defect while answering synchronously (a public endpoint), then serves the next", () =>
      Effect.gen(function* () {
        yield* defectThenNext("liveness", "/health/liveness", {}, "content-type")
        yield* defectThenNext("version", "/version", {}, "content-length")
        yield* assertNoStrayErrors
      }))

    it.effect("answers 500 for a defect in a fiber's observer (/metrics, /health), then serves the next", () =>
      Effect.gen(function* () {
        yield* defectThenNext("metrics", "/metrics", {}, "content-type")
        yield* defectThenNext("health", "/health", {}, "content-type")
        yield* assertNoStrayErrors
      }))

    it.effect("answers 500 when a backend sends a header node refuses to set, then serves the next", () =>
      Effect.gen(function* () {
        const { backend } = yield* Backends
        const id = newCase("backend-header")
        yield* defectThenNext("a proxied GET", `/api/v1/market-data/ticker/BTC?case=${id}`, viewer, "x-backend-note")
        yield* defectThenNext("a proxied POST", `/api/v1/orders?case=${id}`, operator, "x-backend-note").pipe(Effect.asVoid)
        assert.isAtLeast(backend.ofCase(id).length, 3, "each reached the backend, which answered")
        yield* assertNoStrayErrors
      }))

    it.effect("answers 500 for a defect in the answer after a retry, then retries and serves the next", () =>
      Effect.gen(function* () {
        const { backend } = yield* Backends
        const id = newCase("retried")
        yield* assertInternalError(yield* get(`/api/v1/strategies?case=${id}`, { ...operator, "x-fail-first": "1", [defectHeader]: "x-backend-note" }), "after a retry")
        assert.strictEqual(backend.ofCase(id).length, 2, "the 503 was retried")
        const again = newCase("retried-again")
        const next = yield* get(`/api/v1/strategies?case=${again}`, { ...operator, "x-fail-first": "1" })
        assert.strictEqual(next.status, 200)
        assert.strictEqual(backend.ofCase(again).length, 2)
        yield* assertNoStrayErrors
      }))

    it.effect("answers 500 when even the error reply fails (a refused backend's 502), then 502 for the next", () =>
      Effect.gen(function* () {
        yield* assertInternalError(yield* get("/api/v1/config", { ...operator, [defectHeader]: "content-type" }), "a 502 that failed")
        const next = yield* get("/api/v1/config", operator)
        assert.strictEqual(next.status, 502)
        assert.strictEqual(next.json?.error, "Bad gateway")
        yield* assertNoStrayErrors
      }))

    it.effect("answers 500 for a defect in a cache hit, on the synchronous path and after an async JWT check", () =>
      Effect.gen(function* () {
        const stored = yield* get("/api/v1/market-data/symbols", viewer)
        assert.strictEqual(stored.status, 200)
        yield* defectThenNext("a cache hit, API key", "/api/v1/market-data/symbols", viewer, "age")
        // a token never seen is verified in a fiber: the hit is served from its observer
        const fresh = bearer(yield* tokenFor(`defect-${Date.now()}`, "viewer"))
        const next = yield* defectThenNext("a cache hit, new JWT", "/api/v1/market-data/symbols", fresh, "age")
        assert.strictEqual(next.headers.get("x-cache"), "HIT")
        yield* assertNoStrayErrors
      }))

    it.effect("a defect in a coalesced leader's answer leaves its follower served, not waiting", () =>
      Effect.gen(function* () {
        const { backend } = yield* Backends
        const path = `/api/v1/market-data/symbols?coalesce=${newCase("coalesce")}`
        // the leader waits 300 ms at the backend; the follower arrives meanwhile and queues behind it
        const leader = yield* Effect.fork(get(path, { ...viewer, "x-slow": "1", [defectHeader]: "x-backend-note" }))
        yield* Effect.sleep("100 millis")
        const follower = yield* get(path, viewer)
        yield* assertInternalError(yield* Fiber.join(leader), "the coalesced leader")
        assert.strictEqual(follower.status, 200, `the follower: ${follower.text}`)
        assert.isBelow(follower.elapsedMs, 2_000)
        assert.strictEqual(backend.seen.filter((s) => s.url === path).length, 2, "the follower went upstream itself")
        yield* assertNoStrayErrors
      }))

    it.effect("serves other requests normally while defects happen around them", () =>
      Effect.gen(function* () {
        const results = yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => {
          const defect = i % 4 === 0
          const headers = defect ? { ...viewer, [defectHeader]: "x-backend-note" } : viewer
          return Effect.map(get(`/api/v1/market-data/ticker/X${i}`, headers), (r): readonly [boolean, number | undefined] => [defect, r.status])
        }, { concurrency: 10 })
        assert.deepStrictEqual(results.filter(([defect]) => defect).map(([, s]) => s), Array.from({ length: 10 }, () => 500))
        assert.deepStrictEqual(results.filter(([defect]) => !defect).map(([, s]) => s), Array.from({ length: 30 }, () => 200))
        yield* assertNoStrayErrors
      }))
  })

  it.scopedLive("as a process: survives a battery of hostile input, then logs, serves and answers /metrics", () =>
    Effect.gen(function* () {
      const backend = yield* startBackend()
      const port = yield* freePort
      const path = yield* writeConfig([
        "server: { host: 127.0.0.1, mode: test, read_timeout: 1s, max_header_bytes: 8192, max_body_bytes: 1024 }",
        "auth:",
        "  enabled: true",
        `  jwt_secret: "${"s".repeat(40)}"`,
        `  api_keys: [{ key: "${apiKeys.viewer}", role: viewer, name: viewer-bot }, { key: "${apiKeys.operator}", role: operator, name: desk }]`,
        "rate_limit: { enabled: false }",
        "health: { check_services: false }",
        "logging: { level: info, output: stdout, format: json }",
        "features: { enable_access_log: true, enable_error_details: false }",
        "services:",
        ...serviceNames.map((name) => `  ${name}: { url: "${backend.url}", max_retries: 0 }`),
        ""
      ].join("\n"))
      const proc = yield* spawnGateway({ CONFIG_PATH: path, SERVER_PORT: String(port) })
      const base = `http://127.0.0.1:${port}`
      yield* waitForReady(proc, `${base}/health/liveness`)
      const viewerLine = `X-API-Key: ${apiKeys.viewer}`
      const operatorLine = `X-API-Key: ${apiKeys.operator}`

      // [payload, the answers SPEC §4 allows (none: a closed connection is the answer)]
      const battery: ReadonlyArray<readonly [string, string | Buffer, ReadonlyArray<number>]> = [
        ["garbage request line", "\u0000\u0001\u0002 nonsense\r\n\r\n", [400]],
        ["HTTP/0.9 request", "GET /health/liveness\r\n\r\n", [400]],
        ["a 10 KiB header", head("GET /health/liveness HTTP/1.1", [`X-Big: ${"a".repeat(10_240)}`]), [431]],
        ["header flood", head("GET /api/v1/market-data/symbols HTTP/1.1", [viewerLine, ...floodLines(1_200)]), [431]],
        ["CL + TE", head("POST /api/v1/orders HTTP/1.1", [operatorLine, "Content-Type: application/json", "Content-Length: 4", "Transfer-Encoding: chunked"]) + "0\r\n\r\n", [400]],
        ["doubled TE", head("POST /api/v1/orders HTTP/1.1", [operatorLine, "Content-Type: application/json", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"]) + "0\r\n\r\n", [400]],
        ["huge Content-Length", head("POST /api/v1/orders HTTP/1.1", [operatorLine, "Content-Type: application/json", "Content-Length: 99999999999"]), [413]],
        ["traversal", head("GET /api/v1/market-data/../orders HTTP/1.1", [viewerLine]), [400]],
        ["encoded slash", head("GET /api/v1/market-data%2f..%2forders HTTP/1.1", [viewerLine]), [400]],
        ["control byte in a header", head("GET /api/v1/market-data/symbols HTTP/1.1", [viewerLine, "X-Note: a\u0001b"]), [400]],
        ["invalid UTF-8 key", Buffer.concat([Buffer.from("GET /api/v1/market-data/symbols HTTP/1.1\r\nHost: x\r\nX-API-Key: "), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from("\r\nConnection: close\r\n\r\n")]), [401]],
        ["duplicated key", head("GET /api/v1/market-data/symbols HTTP/1.1", [viewerLine, operatorLine]), [400]],
        ["two Host headers", head("GET /api/v1/market-data/symbols HTTP/1.1", [viewerLine, "Host: other.example"]), [400]],
        ["absolute form", head("GET http://evil.example/api/v1/orders HTTP/1.1", [viewerLine]), [403]],
        ["method override", head("POST /api/v1/orders/ord-1 HTTP/1.1", [viewerLine, "X-HTTP-Method-Override: DELETE"]), [403, 405]],
        ["no credentials", head("GET /api/v1/orders HTTP/1.1"), [401]],
        ["CONNECT", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n", [400]]
      ]
      for (const [what, payload, allowed] of battery) assertRefused(yield* converse(port, payload, { timeoutMs: 5_000 }), allowed, what)
      // clients that vanish: mid-head, mid-body, with a reset
      yield* Effect.forEach(["GET /api/v1/market-data/sym", `POST /api/v1/orders HTTP/1.1\r\nHost: x\r\n${operatorLine}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"a":`], (partial) =>
        Effect.async<void>((resume) => {
          const socket = connect(port, "127.0.0.1", () => {
            socket.write(partial, () => setTimeout(() => {
              socket.resetAndDestroy()
              resume(Effect.void)
            }, 50))
          })
          socket.on("error", () => resume(Effect.void))
        }))
      // and a stalled one, cut at read_timeout
      assertRefused(yield* converse(port, "GET /health/liveness HTTP/1.1\r\nHost: x\r\n", { timeoutMs: 5_000 }), [408], "a stalled head")

      assert.isNull(proc.child.exitCode, `the gateway exited\nstderr:\n${proc.stderr()}`)
      const live = yield* send(`${base}/health/liveness`)
      assert.strictEqual(live.status, 200)
      const proxied = yield* send(`${base}/api/v1/market-data/symbols`, { headers: viewer })
      assert.strictEqual(proxied.status, 200)
      const proxiedId = proxied.headers.get("x-request-id")

      const metrics = yield* send(`${base}/metrics`)
      assert.strictEqual(metrics.status, 200)
      const requests = parsePrometheus(metrics.text).get("api_gateway_http_requests_total")
      const count = (status: string) => samplesOf(requests, "api_gateway_http_requests_total", { status }).reduce((n, s) => n + s.value, 0)
      for (const [status, atLeast] of [["400", 8], ["401", 2], ["403", 1], ["408", 1], ["413", 1], ["431", 2]] as const) {
        assert.isAtLeast(count(status), atLeast, `/metrics counts the ${status}s`)
      }
      assert.strictEqual(count("500"), 0, "no 500 from the gateway")

      // the access log: JSON lines with request ids, the hostile requests that reached the
      // handler among them, and the normal one after them
      yield* Effect.sleep("200 millis")
      const access = linesOf(proc.stdout()).flatMap((line) => {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>
          return entry.msg === "HTTP request" ? [entry] : []
        } catch {
          return assert.fail(`a log line that is not JSON: ${line}`)
        }
      })
      assert.isTrue(access.some((e) => e.status === 403 && e.route === "/api/v1/orders"), "the absolute-form request is logged")
      assert.isTrue(access.some((e) => e.status === 400 && e.path === "/api/v1/market-data/../orders"), "the traversal is logged")
      assert.isTrue(access.some((e) => e.request_id === proxiedId && e.status === 200), "the request after them is logged")
      for (const entry of access) assert.isString(entry.request_id)
      const errors = linesOf(proc.stdout()).filter((l) => l.includes("\"level\":\"error\""))
      assert.deepStrictEqual(errors, [], "nothing was logged at error level (no defect, no stray rejection or exception)")
      for (const line of linesOf(proc.stderr())) assert.notMatch(line, /^\s+at /, `a stack trace in stderr: ${line}`)

      proc.child.kill("SIGTERM")
      const { code, signal } = yield* waitForExit(proc, 10_000)
      assert.strictEqual(code, 0, `exit ${code ?? signal}\nstderr:\n${proc.stderr()}`)
    }), 60_000)
})
