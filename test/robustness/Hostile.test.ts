// SPEC §6 on raw sockets, the shapes test/http/ServerLimits.test.ts and
// Validation.test.ts do not already cover: header floods, lying and huge Content-Length,
// Transfer-Encoding games, bytes a header value may not hold, absolute-form targets,
// method overrides and pipelined smuggling. Each case: the §4 answer or a closed
// connection, never a 5xx, no backend request that should not exist (the recording
// backend is checked), and the gateway still serving afterwards.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { connect } from "node:net"
import { serviceNames } from "../support/AuthGateway.js"
import { apiKey, apiKeys, authSection, bearer, tokenFor } from "../support/AuthTokens.js"
import { gatewayPort, realTime } from "../support/HttpClient.js"
import { echo, fastRetry, gatewayAfter, type ProxyBackend, quietBreaker, type Seen, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { exchange, newCase } from "../support/ProxyClient.js"
import { assertRefused, type Conversation, converse, floodLines, head } from "../support/RobustClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

class Recorder extends Context.Tag("test/Hostile/Backend")<Recorder, ProxyBackend>() {}

const readTimeoutMs = 1_500
const maxBodyBytes = 1_024

// every service at one recording backend; strategy_engine retries (its bodies are
// buffered), the others do not (their bodies stream)
const Gateway = gatewayAfter(Recorder, startProxyBackend(echo), (b) => ({
  server: { read_timeout: `${readTimeoutMs}ms`, max_body_bytes: maxBodyBytes },
  services: Object.fromEntries(serviceNames.map((name) => [name, serviceAt(b.url, { max_retries: name === "strategy_engine" ? 2 : 0 })])),
  auth: authSection(),
  retry: fastRetry,
  circuit_breaker: quietBreaker
}))

const viewer = `X-API-Key: ${apiKeys.viewer}`
const operator = `X-API-Key: ${apiKeys.operator}`
const admin = `X-API-Key: ${apiKeys.admin}`
const json = "Content-Type: application/json"

const port = gatewayPort
const talk = (payload: string | Buffer, timeoutMs = 5_000) => Effect.flatMap(port, (p) => converse(p, payload, { timeoutMs }))

/** The backend's request count now: what `forwardedSince` counts from. */
const mark = Effect.map(Recorder, (b) => b.seen.length)

/** Requests that reached the backend since `before`, the still-serving probes left out. */
const forwardedSince = (before: number): Effect.Effect<ReadonlyArray<Seen>, never, Recorder> =>
  Effect.map(Recorder, (b) => b.seen.slice(before).filter((s) => !(s.caseId ?? "").startsWith("still")))

const assertNothingForwarded = (before: number, what: string) =>
  Effect.map(forwardedSince(before), (seen) =>
    assert.deepStrictEqual(seen.map((s) => `${s.method} ${s.url}`), [], `${what}: the backend saw a request it should not have`))

/** A public endpoint and an authenticated proxied request both answer 200. */
const stillServes = Effect.gen(function* () {
  const base = yield* gatewayUrl
  const backend = yield* Recorder
  const live = yield* exchange(`${base}/health/liveness`)
  assert.strictEqual(live.status, 200, "liveness after the hostile input")
  const id = newCase("still")
  const proxied = yield* exchange(`${base}/api/v1/market-data/symbols?case=${id}`, { headers: apiKey(apiKeys.viewer) })
  assert.strictEqual(proxied.status, 200, `a proxied request after the hostile input: ${proxied.text}`)
  assert.strictEqual(backend.ofCase(id).length, 1)
})

const latin1 = (...parts: ReadonlyArray<string | ReadonlyArray<number>>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))))

/** Invalid UTF-8: a lead byte without its continuation, then bytes that never occur in UTF-8. */
const invalidUtf8 = [0xc3, 0x28, 0xff, 0xfe]

const statusesOf = (c: Conversation) => c.statuses.join(",")

describe("Hostile", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("refuses thousands of small headers with 431, even within max_header_bytes, and forwards nothing", () =>
      Effect.gen(function* () {
        const before = yield* mark
        const id = newCase("flood")
        // ~50 KiB: under the 64 KiB max_header_bytes, far over the 1000 headers node's parser keeps
        const flood = yield* talk(head(`GET /api/v1/market-data/symbols?case=${id} HTTP/1.1`, [viewer, ...floodLines(5_000)]))
        assertRefused(flood, [431], "5000 small headers")
        assert.deepStrictEqual(flood.statuses, [431])
        assert.isBelow(flood.elapsedMs, 2_000, "answered at once")
        // past max_header_bytes node answers 431 before the handler
        assertRefused(yield* talk(head("GET /health/liveness HTTP/1.1", floodLines(12_000))), [431], "12000 small headers")
        yield* assertNothingForwarded(before, "header floods")
        yield* stillServes
      }))

    it.effect("serves a request with 900 headers (below node's 1000), its credentials after them counted", () =>
      Effect.gen(function* () {
        const backend = yield* Recorder
        const id = newCase("many")
        const reply = yield* talk(head(`GET /api/v1/market-data/symbols?case=${id} HTTP/1.1`, [...floodLines(900), viewer]))
        assert.deepStrictEqual(reply.statuses, [200], reply.raw.slice(0, 200))
        assert.strictEqual(backend.ofCase(id).length, 1)
        const refused = yield* talk(head(`PUT /api/v1/risk/limits?case=${id} HTTP/1.1`, [...floodLines(900), viewer, json, "Content-Length: 2"]) + "{}")
        assertRefused(refused, [403], "a viewer key after 900 headers on an admin route")
        assert.strictEqual(backend.ofCase(id).length, 1, "the PUT never reached the backend")
      }))

    it.effect("never lets headers past node's count hide a second credential or a Content-Length", () =>
      Effect.gen(function* () {
        const before = yield* mark
        // node's parser drops every header after the 1000th: the admin key would be invisible
        // to the duplicate check, the Content-Length to the size check
        const hiddenKey = yield* talk(
          head("PUT /api/v1/risk/limits HTTP/1.1", [viewer, ...floodLines(2_500), admin, json, "Content-Length: 2"]) + "{}"
        )
        assertRefused(hiddenKey, [400, 431], "a second X-API-Key after 2500 headers")
        const hiddenLength = yield* talk(head("POST /api/v1/orders HTTP/1.1", [operator, json, ...floodLines(2_500), "Content-Length: 100000"]) + "{}")
        assertRefused(hiddenLength, [413, 431], "a huge Content-Length after 2500 headers")
        const hiddenChunked = yield* talk(
          head("POST /api/v1/orders HTTP/1.1", [operator, ...floodLines(2_500), "Transfer-Encoding: chunked"]) + "2\r\n{}\r\n0\r\n\r\n"
        )
        assertRefused(hiddenChunked, [415, 431], "a chunked body without Content-Type, announced after 2500 headers")
        yield* assertNothingForwarded(before, "headers past node's count")
        yield* stillServes
      }))

    it.effect("answers 20 concurrent header floods, and serves a normal request meanwhile", () =>
      Effect.gen(function* () {
        const before = yield* mark
        const base = yield* gatewayUrl
        const payload = head("GET /api/v1/market-data/symbols HTTP/1.1", [viewer, ...floodLines(3_000)])
        const [floods, live] = yield* Effect.all([
          Effect.forEach(Array.from({ length: 20 }), () => talk(payload, 10_000), { concurrency: "unbounded" }),
          exchange(`${base}/health/liveness`)
        ], { concurrency: "unbounded" })
        floods.forEach((c, i) => assertRefused(c, [431], `flood ${i}`))
        assert.strictEqual(live.status, 200)
        yield* assertNothingForwarded(before, "concurrent floods")
        yield* stillServes
      }))

    it.effect("holds clients that drip header bytes to read_timeout (408 or closed), serving others meanwhile", () =>
      Effect.gen(function* () {
        const p = yield* port
        const base = yield* gatewayUrl
        const clients = yield* Effect.forEach(Array.from({ length: 30 }), () => dripHeaders(p, 100, readTimeoutMs + 4_000), {
          concurrency: "unbounded"
        }).pipe(Effect.fork)
        yield* Effect.sleep("300 millis")
        const live = yield* exchange(`${base}/health/liveness`)
        assert.strictEqual(live.status, 200)
        assert.isBelow(live.elapsedMs, 1_000, "a normal request is not held up by slow clients")
        const results = yield* clients.await.pipe(Effect.flatten)
        for (const [i, r] of results.entries()) {
          assert.isTrue(r.closed, `slow client ${i} was never cut off`)
          if (r.status !== undefined) assert.strictEqual(r.status, 408, `slow client ${i}`)
          assert.isAtLeast(r.elapsedMs, readTimeoutMs - 100, `slow client ${i} cut before read_timeout`)
          assert.isBelow(r.elapsedMs, readTimeoutMs + 2_000, `slow client ${i} held past read_timeout`)
        }
        yield* stillServes
      }), 20_000)

    it.effect("a Content-Length shorter than the body: the rest is a request of its own, checked on its own", () =>
      Effect.gen(function* () {
        const backend = yield* Recorder
        const before = yield* mark
        const id = newCase("short")
        const smuggled = (lines: ReadonlyArray<string>) => head(`DELETE /api/v1/orders/ord-1?case=${id} HTTP/1.1`, lines)
        const first = head(`POST /api/v1/orders?case=${id} HTTP/1.1`, [operator, json, "Content-Length: 2"], { keepAlive: true })
        const noCredentials = yield* talk(`${first}{}${smuggled([])}`)
        assert.deepStrictEqual(noCredentials.statuses, [200, 401], statusesOf(noCredentials))
        const asViewer = yield* talk(`${first}{}${smuggled([viewer])}`)
        assert.deepStrictEqual(asViewer.statuses, [200, 403], statusesOf(asViewer))
        // bytes that are no request: node answers 400 for them at once (even ahead of the
        // first answer when the backend is slower, as node's own default does) and closes
        const garbage = yield* talk(`${first}{}{"pad":"not a request line"}\r\n\r\n`)
        assert.include(garbage.statuses, 400, statusesOf(garbage))
        assertRefused({ ...garbage, responses: garbage.responses.filter((r) => r.status !== 200) }, [400], "the bytes after the declared body")
        const seen = yield* forwardedSince(before)
        assert.deepStrictEqual(seen.map((s) => `${s.method} ${s.body?.toString("utf8")}`), ["POST {}", "POST {}", "POST {}"])
        assert.strictEqual(backend.ofCase(id).length, 3)
        yield* stillServes
      }))

    it.effect("a Content-Length longer than the body: 408 or closed at read_timeout, no complete request upstream", () =>
      Effect.gen(function* () {
        const before = yield* mark
        for (const path of ["/api/v1/orders", "/api/v1/strategies/s-1/start"]) {
          const reply = yield* talk(head(`POST ${path} HTTP/1.1`, [operator, json, "Content-Length: 100"]) + "{}", readTimeoutMs + 4_000)
          assertRefused(reply, [408], `a Content-Length of 100 with 2 bytes sent, ${path}`)
          assert.isAtLeast(reply.elapsedMs, readTimeoutMs - 100)
        }
        // the streamed service may have seen the head: never a complete request
        const seen = yield* forwardedSince(before)
        assert.isTrue(seen.every((s) => s.body === undefined && s.url === "/api/v1/orders"), JSON.stringify(seen.map((s) => [s.url, s.body?.length])))
        yield* stillServes
      }), 20_000)

    it.effect("answers a huge Content-Length with no body 413 at once, without waiting for the body", () =>
      Effect.gen(function* () {
        const before = yield* mark
        for (const length of ["1025", "10000000000", "9007199254740993"]) {
          for (const path of ["/api/v1/orders", "/api/v1/strategies/s-1/start"]) {
            const reply = yield* talk(head(`POST ${path} HTTP/1.1`, [operator, json, `Content-Length: ${length}`], { keepAlive: true }))
            assertRefused(reply, [413], `Content-Length ${length} on ${path}`)
            assert.deepStrictEqual(reply.statuses, [413])
            assert.isTrue(reply.closed, "the connection is closed after a 413")
            assert.isBelow(reply.elapsedMs, readTimeoutMs / 2, `Content-Length ${length}: 413 before read_timeout`)
          }
        }
        // past 2^64 node's parser refuses the number itself
        assertRefused(yield* talk(head("POST /api/v1/orders HTTP/1.1", [operator, json, `Content-Length: ${"9".repeat(30)}`])), [400], "an overflowing Content-Length")
        yield* assertNothingForwarded(before, "huge Content-Length")
        yield* stillServes
      }))

    it.effect("refuses doubled and unknown Transfer-Encodings with 400 or a closed connection", () =>
      Effect.gen(function* () {
        const before = yield* mark
        const body = "2\r\n{}\r\n0\r\n\r\n"
        const shapes: ReadonlyArray<ReadonlyArray<string>> = [
          ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
          ["Transfer-Encoding: chunked, chunked"],
          ["Transfer-Encoding: chunked, identity"],
          ["Transfer-Encoding: identity"],
          ["Transfer-Encoding: xchunked"],
          ["Transfer-Encoding : chunked"],
          ["Transfer-Encoding: x", " chunked"], // obs-fold
          ["Transfer-Encoding:\u000bchunked"]
        ]
        for (const te of shapes) {
          for (const path of ["/api/v1/orders", "/api/v1/strategies/s-1/start"]) {
            assertRefused(yield* talk(head(`POST ${path} HTTP/1.1`, [operator, json, ...te]) + body), [400], `${JSON.stringify(te)} on ${path}`)
          }
        }
        yield* assertNothingForwarded(before, "Transfer-Encoding shapes")
        yield* stillServes
      }))

    it.effect("refuses Transfer-Encoding with Content-Length in either order, and never serves the smuggled request", () =>
      Effect.gen(function* () {
        const before = yield* mark
        const smuggled = head("DELETE /api/v1/orders/ord-1 HTTP/1.1", [admin])
        const orders: ReadonlyArray<ReadonlyArray<string>> = [
          ["Transfer-Encoding: chunked", `Content-Length: ${5 + smuggled.length}`],
          [`Content-Length: ${5 + smuggled.length}`, "Transfer-Encoding: chunked"],
          ["Content-Length: 5", "Transfer-Encoding: chunked"],
          ["Transfer-Encoding: chunked", "Content-Length: 0"]
        ]
        for (const framing of orders) {
          for (const path of ["/api/v1/orders", "/api/v1/strategies/s-1/start"]) {
            const reply = yield* talk(head(`POST ${path} HTTP/1.1`, [operator, json, ...framing], { keepAlive: true }) + `0\r\n\r\n${smuggled}`)
            assertRefused(reply, [400], `${framing.join(" + ")} on ${path}`)
            assert.isAtMost(reply.responses.length, 1, `${framing.join(" + ")}: a second answer means the smuggled request was read`)
          }
        }
        yield* assertNothingForwarded(before, "Transfer-Encoding with Content-Length")
        yield* stillServes
      }))

    it.effect("refuses control characters in header values with 400 or a closed connection, forwarding nothing", () =>
      Effect.gen(function* () {
        const before = yield* mark
        const values: ReadonlyArray<string> = [
          "X-Note: a\u0001b",
          "X-Note: a\u0000b",
          "X-Note: a\u007fb",
          "X-Note: a\u001bb",
          "X-Note: a\rb",
          "X-Note: a\nX-Auth-Role: admin", // a bare LF would make a header of its own
          `X-API-Key: ${apiKeys.admin}\u0000`,
          "Authorization: Bearer a\u0001b"
        ]
        for (const line of values) {
          const reply = yield* talk(head("GET /api/v1/market-data/symbols HTTP/1.1", [viewer, line]))
          assertRefused(reply, [400], JSON.stringify(line))
        }
        yield* assertNothingForwarded(before, "control characters")
        yield* stillServes
      }))

    it.effect("treats invalid UTF-8 in header values as opaque bytes: never a 5xx, never a credential", () =>
      Effect.gen(function* () {
        const backend = yield* Recorder
        const before = yield* mark
        const id = newCase("utf8")
        const target = `GET /api/v1/market-data/symbols?case=${id} HTTP/1.1\r\nHost: 127.0.0.1\r\n`
        // RFC 9110 §5.5: obs-text is allowed in a field value; the request is served
        const note = yield* talk(latin1(target, `${viewer}\r\nX-Note: `, invalidUtf8, "\r\nConnection: close\r\n\r\n"))
        assert.deepStrictEqual(note.statuses, [200], note.raw.slice(0, 200))
        assert.strictEqual(backend.ofCase(id).length, 1)
        // as a credential it is simply not one
        const key = yield* talk(latin1(target, "X-API-Key: ", invalidUtf8, "\r\nConnection: close\r\n\r\n"))
        assertRefused(key, [401], "an X-API-Key of invalid UTF-8")
        const jwt = yield* talk(latin1(target, "Authorization: Bearer ", invalidUtf8, ".e30.x\r\nConnection: close\r\n\r\n"))
        assertRefused(jwt, [401], "a bearer token of invalid UTF-8")
        // and as a request id it is replaced
        const rid = yield* talk(latin1(target, `${viewer}\r\nX-Request-ID: `, invalidUtf8, "\r\nConnection: close\r\n\r\n"))
        assert.deepStrictEqual(rid.statuses, [200])
        assert.match(rid.responses[0]!.headers["x-request-id"] ?? "", /^[0-9a-f-]{36}$/)
        assert.strictEqual(backend.ofCase(id).length, 2, "only the two requests with a valid key were forwarded")
        assert.strictEqual((yield* forwardedSince(before)).length, 2)
        yield* stillServes
      }))

    it.effect("refuses invalid UTF-8 and control bytes in the path, raw or percent-encoded, with 400", () =>
      Effect.gen(function* () {
        const before = yield* mark
        const targets: ReadonlyArray<Buffer> = [
          latin1("/api/v1/market-data/", [0xff]),
          latin1("/api/v1/market-data/", invalidUtf8),
          latin1("/api/v1/market-data/%C3%28"),
          latin1("/api/v1/market-data/%FF"),
          latin1("/api/v1/market-data/%E0%A4%A"),
          latin1("/api/v1/market-data/%01"),
          latin1("/api/v1/market-data/%7F"),
          latin1("/api/v1/market-data/sym%0Abols")
        ]
        for (const target of targets) {
          const reply = yield* talk(latin1("GET ", [...target], " HTTP/1.1\r\nHost: 127.0.0.1\r\n", `${viewer}\r\nConnection: close\r\n\r\n`))
          assertRefused(reply, [400], JSON.stringify(target.toString("latin1")))
        }
        yield* assertNothingForwarded(before, "bad bytes in paths")
        yield* stillServes
      }))

    it.effect("role-checks absolute-form targets like their origin form, and forwards only the path", () =>
      Effect.gen(function* () {
        const backend = yield* Recorder
        const before = yield* mark
        const id = newCase("absolute")
        const asViewer = yield* talk(head("GET http://evil.example/api/v1/orders HTTP/1.1", [viewer]))
        assertRefused(asViewer, [403], "a viewer on /api/v1/orders in absolute form")
        assertRefused(yield* talk(head("GET http://evil.example/api/v1/orders HTTP/1.1")), [401], "no credentials in absolute form")
        assertRefused(
          yield* talk(head("PUT HTTP://EVIL.EXAMPLE:8443/api/v1/risk/limits HTTP/1.1", [operator, json, "Content-Length: 2"]) + "{}"),
          [403],
          "an operator on an admin route in absolute form"
        )
        for (const target of [
          "https://evil.example/api/v1/market-data/../../v1/orders",
          "http://evil.example/api/v1/market-data/%2e%2e/%2e%2e/v1/orders",
          "http://evil.example//api/v1/orders",
          "ftp://evil.example/api/v1/orders",
          "//evil.example/api/v1/orders",
          "evil.example/api/v1/orders",
          "*"
        ]) {
          assertRefused(yield* talk(head(`GET ${target} HTTP/1.1`, [operator])), [400], target)
        }
        assert.strictEqual((yield* forwardedSince(before)).length, 0)
        const allowed = yield* talk(head(`GET http://evil.example/api/v1/orders?case=${id} HTTP/1.1`, [operator]))
        assert.deepStrictEqual(allowed.statuses, [200])
        const seen = backend.ofCase(id)
        assert.strictEqual(seen.length, 1)
        assert.strictEqual(seen[0]!.url, `/api/v1/orders?case=${id}`, "forwarded in origin form")
        assert.strictEqual(seen[0]!.headers.host, backend.url.slice("http://".length), "Host is the backend's")
        yield* stillServes
      }))

    it.effect("never lets X-HTTP-Method-Override and its variants change the method a role is checked against", () =>
      Effect.gen(function* () {
        const backend = yield* Recorder
        const before = yield* mark
        const overrides = ["X-HTTP-Method-Override: DELETE", "X-HTTP-Method: DELETE", "X-Method-Override: DELETE"]
        // a viewer POSTing to DELETE routes: there is no POST route there (405), and no role passes
        for (const path of ["/api/v1/orders/ord-1", "/api/v1/strategies/s-1", "/api/v1/config/max_position"]) {
          const reply = yield* talk(head(`POST ${path} HTTP/1.1`, [viewer, ...overrides, json, "Content-Length: 2"]) + "{}")
          assertRefused(reply, [403, 405], `a viewer's POST ${path} overridden to DELETE`)
        }
        // a viewer's POST on an operator route is a POST, refused for the role
        assertRefused(yield* talk(head("POST /api/v1/orders HTTP/1.1", [viewer, "X-HTTP-Method-Override: GET", json, "Content-Length: 2"]) + "{}"), [403], "POST /api/v1/orders overridden to GET")
        // a viewer's GET overridden to DELETE is still a GET
        const id = newCase("override")
        const get = yield* talk(head(`GET /api/v1/market-data/symbols?case=${id} HTTP/1.1`, [viewer, ...overrides]))
        assert.deepStrictEqual(get.statuses, [200])
        // an operator's allowed POST goes upstream as a POST, the overrides stripped
        const post = yield* talk(head(`POST /api/v1/strategies/s-1/start?case=${id} HTTP/1.1`, [operator, ...overrides, json, "Content-Length: 2"]) + "{}")
        assert.deepStrictEqual(post.statuses, [200])
        const seen = backend.ofCase(id)
        assert.deepStrictEqual(seen.map((s) => s.method), ["GET", "POST"])
        for (const s of seen) {
          for (const name of ["x-http-method-override", "x-http-method", "x-method-override"]) assert.notProperty(s.headers, name)
        }
        assert.strictEqual((yield* forwardedSince(before)).length, 2)
        yield* stillServes
      }))

    it.effect("checks every pipelined request on its own: credentials never carry over, refusals never forward", () =>
      Effect.gen(function* () {
        const backend = yield* Recorder
        const id = newCase("pipeline")
        const token = yield* tokenFor("pipeline-viewer", "viewer")
        const pipeline =
          head(`GET /api/v1/market-data/symbols?case=${id} HTTP/1.1`, [viewer], { keepAlive: true }) +
          head(`GET /api/v1/orders?case=${id} HTTP/1.1`, [], { keepAlive: true }) +
          head(`DELETE /api/v1/strategies/s-1?case=${id} HTTP/1.1`, [bearerLine(token)], { keepAlive: true }) +
          head(`GET /api//v1/orders?case=${id} HTTP/1.1`, [operator], { keepAlive: true }) +
          head(`GET /api/v1/orders?case=${id} HTTP/1.1`, [operator, `X-API-Key: ${apiKeys.admin}`], { keepAlive: true }) +
          head(`GET /api/v1/account/balance?case=${id} HTTP/1.1`, [bearerLine(token)])
        const reply = yield* talk(pipeline)
        assert.deepStrictEqual(reply.statuses, [200, 401, 403, 400, 400, 200], statusesOf(reply))
        assert.deepStrictEqual(backend.ofCase(id).map((s) => `${s.method} ${s.url.split("?")[0]}`), [
          "GET /api/v1/market-data/symbols",
          "GET /api/v1/account/balance"
        ])
        yield* stillServes
      }))

    it.effect("after a 413 closes the connection: a declared body swallows what follows, a pipelined request is checked on its own", () =>
      Effect.gen(function* () {
        const before = yield* mark
        for (const path of ["/api/v1/orders", "/api/v1/strategies/s-1/start"]) {
          // what follows a refused Content-Length is that body's bytes: never a request
          const declared = yield* talk(head(`POST ${path} HTTP/1.1`, [operator, json, "Content-Length: 5000"], { keepAlive: true }) + head("DELETE /api/v1/orders/ord-1 HTTP/1.1", [admin]))
          assert.deepStrictEqual(declared.statuses, [413], `${path}: ${statusesOf(declared)}`)
          // a complete chunked body over the limit, then a request riding on the operator's
          // connection with a viewer's key: it never gets through, nor is it answered
          const chunk = `{"pad":"${"x".repeat(2_000)}"}`
          const chunked = yield* talk(
            head(`POST ${path} HTTP/1.1`, [operator, json, "Transfer-Encoding: chunked"], { keepAlive: true }) +
              `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n` +
              head("DELETE /api/v1/orders/ord-1 HTTP/1.1", [viewer])
          )
          assertRefused(chunked, [413], `${path}: a chunked body over the limit, then a request`)
          assert.deepStrictEqual(chunked.statuses, [413], `${path}: ${statusesOf(chunked)}`)
        }
        // the streamed service may have seen the head of the oversized chunked upload: never complete, never the DELETE
        const seen = yield* forwardedSince(before)
        assert.isTrue(seen.every((s) => s.method === "POST" && s.body === undefined), JSON.stringify(seen.map((s) => [s.method, s.url, s.body?.length])))
        yield* stillServes
      }))

    it.effect("forwards a body that holds a whole HTTP request as data: one request upstream", () =>
      Effect.gen(function* () {
        const backend = yield* Recorder
        const before = yield* mark
        const id = newCase("inner")
        const inner = JSON.stringify({ note: head("DELETE /api/v1/orders/ord-1 HTTP/1.1", [admin]) })
        for (const path of ["/api/v1/orders", "/api/v1/strategies/s-1/start"]) {
          const reply = yield* talk(head(`POST ${path}?case=${id} HTTP/1.1`, [operator, json, `Content-Length: ${Buffer.byteLength(inner)}`]) + inner)
          assert.deepStrictEqual(reply.statuses, [200])
        }
        const seen = backend.ofCase(id)
        assert.deepStrictEqual(seen.map((s) => s.method), ["POST", "POST"])
        for (const s of seen) assert.strictEqual(s.body?.toString("utf8"), inner)
        assert.strictEqual((yield* forwardedSince(before)).length, 2)
        yield* stillServes
      }))
  })
})

const bearerLine = (token: string) => `Authorization: ${bearer(token).authorization}`

interface DripResult {
  readonly status: number | undefined
  readonly closed: boolean
  readonly elapsedMs: number
}

/** A slow-loris client: a request line, then one more header byte every `intervalMs`, never the end of the head. */
const dripHeaders = (port: number, intervalMs: number, boundMs: number): Effect.Effect<DripResult> =>
  Effect.async<DripResult>((resume) => {
    const started = performance.now()
    let data = ""
    let done = false
    const socket = connect(port, "127.0.0.1")
    const finish = (closed: boolean) => {
      if (done) return
      done = true
      clearInterval(drip)
      clearTimeout(bound)
      socket.destroy()
      const match = /^HTTP\/1\.1 (\d{3})/.exec(data)
      resume(Effect.succeed({ status: match === null ? undefined : Number(match[1]), closed, elapsedMs: performance.now() - started }))
    }
    socket.write("GET /health/liveness HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write("a")
    }, intervalMs)
    const bound = setTimeout(() => finish(false), boundMs)
    socket.on("data", (chunk: Buffer) => void (data += chunk.toString("latin1")))
    socket.on("close", () => finish(true))
    socket.on("error", () => finish(true))
    return Effect.sync(() => finish(false))
  })
