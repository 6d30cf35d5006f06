import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { gatewayPort, rawExchange, realTime } from "../support/HttpClient.js"
import { echo, fastRetry, gatewayAfter, type ProxyBackend, quietBreaker, type Seen, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { exchange, sendExpectingContinue } from "../support/ProxyClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

class Backend extends Context.Tag("test/ProxyRequestHeaders/Backend")<Backend, ProxyBackend>() {}

const Gateway = gatewayAfter(Backend, startProxyBackend(echo), (b) => ({
  services: { market_data: serviceAt(b.url), order_execution: serviceAt(b.url) },
  retry: fastRetry,
  circuit_breaker: quietBreaker
}))

/** The request the backend saw last, after a response arrived through the gateway. */
const lastSeen = Effect.map(Backend, (b): Seen => {
  const seen = b.seen.at(-1)
  assert.isDefined(seen, "the backend saw no request")
  return seen!
})

/** A raw GET with exactly these header lines (Host included by the caller). */
const rawGet = (target: string, headerLines: ReadonlyArray<string>) =>
  Effect.flatMap(gatewayPort, (port) =>
    rawExchange(port, `GET ${target} HTTP/1.1\r\n${headerLines.map((h) => `${h}\r\n`).join("")}\r\n`))

const traceparentFormat = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

const traceOf = (seen: Seen) => {
  const value = seen.headers.traceparent
  assert.isString(value, "a traceparent went upstream")
  const m = traceparentFormat.exec(value as string)
  assert.isNotNull(m, `traceparent ${value} is W3C`)
  return { traceId: m![1]!, spanId: m![2]!, flags: m![3]! }
}

describe("ProxyHeaders", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("forwards path and query exactly as written: trailing slash, percent-encoding, repeated and empty parameters", () =>
      Effect.gen(function* () {
        for (const target of [
          "/api/v1/market-data/symbols/",
          "/api/v1/market-data/symbols?b=2&a=1&a=3&empty=&flag&enc=a%2Fb%26c%3D&sp=x+y%20z",
          "/api/v1/market-data/ticker/BTC%20USD",
          "/api/v1/market-data/ticker/%C3%A9t%C3%A9?q=%E2%82%AC",
          "/api/v1/market-data/orderbook/eth-usd/?depth=10"
        ]) {
          const reply = yield* rawGet(target, ["Host: 127.0.0.1", "Connection: close"])
          assert.strictEqual(reply.status, 200, `${target}: ${reply.raw.slice(0, 200)}`)
          assert.strictEqual((yield* lastSeen).url, target)
        }
      }))

    it.effect("sets Host to the backend's and adds X-Forwarded-Host/-Proto/-For and X-Gateway-Version", () =>
      Effect.gen(function* () {
        const backend = yield* Backend
        const reply = yield* rawGet("/api/v1/market-data/symbols", [
          "Host: api.example.test:8443",
          "X-Forwarded-For: 203.0.113.9",
          "X-Forwarded-Proto: https",
          "X-Forwarded-Host: evil.example",
          "X-Gateway-Version: 9.9.9",
          "Connection: close"
        ])
        assert.strictEqual(reply.status, 200)
        const h = (yield* lastSeen).headers
        assert.strictEqual(h.host, `127.0.0.1:${backend.port}`)
        assert.strictEqual(h["x-forwarded-host"], "api.example.test:8443")
        assert.strictEqual(h["x-forwarded-proto"], "http")
        assert.strictEqual(h["x-forwarded-for"], "127.0.0.1", "an untrusted client's X-Forwarded-For is dropped")
        assert.strictEqual(h["x-gateway-version"], "1.0.0")
      }))

    it.effect("forwards a valid X-Request-ID and returns it; replaces an invalid one with the same new id both ways", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const kept = yield* exchange(`${base}/api/v1/market-data/symbols`, { headers: { "x-request-id": "req-42.abc_XYZ" } })
        assert.strictEqual(kept.status, 200)
        assert.strictEqual(kept.headers.get("x-request-id"), "req-42.abc_XYZ")
        assert.strictEqual((yield* lastSeen).headers["x-request-id"], "req-42.abc_XYZ")

        const replaced = yield* exchange(`${base}/api/v1/market-data/symbols`, { headers: { "x-request-id": "bad id with spaces!" } })
        const id = replaced.headers.get("x-request-id")
        assert.match(id ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
        assert.strictEqual((yield* lastSeen).headers["x-request-id"], id)

        const fresh = yield* exchange(`${base}/api/v1/market-data/symbols`)
        assert.isNotNull(fresh.headers.get("x-request-id"))
        assert.strictEqual((yield* lastSeen).headers["x-request-id"], fresh.headers.get("x-request-id"))
      }))

    it.effect("always sends a W3C traceparent: a new trace for each request that brought none", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        yield* exchange(`${base}/api/v1/market-data/symbols`)
        const first = traceOf(yield* lastSeen)
        yield* exchange(`${base}/api/v1/market-data/symbols`)
        const second = traceOf(yield* lastSeen)
        assert.notStrictEqual(first.traceId, second.traceId, "a new trace per request")
        for (const t of [first, second]) {
          assert.notMatch(t.traceId, /^0+$/)
          assert.notMatch(t.spanId, /^0+$/)
        }
      }))

    it.effect("continues the client's trace: same trace id, a new span id, the sampled flag kept", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
        const parent = "00f067aa0ba902b7"
        yield* exchange(`${base}/api/v1/market-data/symbols`, {
          headers: { traceparent: `00-${traceId}-${parent}-01`, tracestate: "vendor=abc" }
        })
        const seen = yield* lastSeen
        const sent = traceOf(seen)
        assert.strictEqual(sent.traceId, traceId)
        assert.notStrictEqual(sent.spanId, parent)
        assert.strictEqual(sent.flags, "01")
        assert.strictEqual(seen.headers.tracestate, "vendor=abc")
      }))

    it.effect("starts a new trace when the client's traceparent is malformed", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        yield* exchange(`${base}/api/v1/market-data/symbols`, { headers: { traceparent: "00-not-a-trace-01" } })
        const sent = traceOf(yield* lastSeen)
        assert.notStrictEqual((yield* lastSeen).headers.traceparent, "00-not-a-trace-01")
        assert.notMatch(sent.traceId, /^0+$/)
      }))

    it.effect("drops hop-by-hop headers and the headers named in Connection, keeps the end-to-end ones", () =>
      Effect.gen(function* () {
        const reply = yield* rawGet("/api/v1/market-data/symbols", [
          "Host: 127.0.0.1",
          "Connection: close, X-Hop-Secret, x-other-hop",
          "X-Hop-Secret: do-not-forward",
          "X-Other-Hop: nor-this",
          "Keep-Alive: timeout=5, max=100",
          "Proxy-Connection: keep-alive",
          "TE: trailers",
          "Trailer: X-Checksum",
          "Upgrade: h2c",
          "X-End-To-End: keep-me",
          "Accept: application/json",
          "Cookie: a=1",
          "Cookie: b=2",
          "X-Repeated: one",
          "X-Repeated: two",
          "User-Agent: first-agent",
          "User-Agent: second-agent"
        ])
        assert.strictEqual(reply.status, 200, reply.raw.slice(0, 300))
        const h = (yield* lastSeen).headers
        for (const name of ["x-hop-secret", "x-other-hop", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]) {
          assert.notProperty(h, name, `${name} must not be forwarded`)
        }
        assert.notInclude((h.connection ?? "").toLowerCase(), "x-hop-secret")
        assert.strictEqual(h["x-end-to-end"], "keep-me")
        assert.strictEqual(h.accept, "application/json")
        assert.strictEqual(h.cookie, "a=1; b=2")
        assert.strictEqual(h["x-repeated"], "one, two")
        // a singleton sent twice: the first, the one the gateway read (node's rule for req.headers)
        assert.strictEqual(h["user-agent"], "first-agent")
      }))

    it.effect("removes a client's X-Auth-User and X-Auth-Role", () =>
      Effect.gen(function* () {
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/market-data/symbols`, {
          headers: { "x-auth-user": "admin", "x-auth-role": "admin" }
        })
        assert.strictEqual(res.status, 200)
        const h = (yield* lastSeen).headers
        assert.notProperty(h, "x-auth-user")
        assert.notProperty(h, "x-auth-role")
      }))

    it.effect("strips X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override; the method is unchanged", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const overrides = { "x-http-method-override": "DELETE", "x-http-method": "PUT", "x-method-override": "PATCH" }
        const get = yield* exchange(`${base}/api/v1/market-data/symbols`, { headers: overrides })
        assert.strictEqual(get.status, 200)
        const seenGet = yield* lastSeen
        assert.strictEqual(seenGet.method, "GET")
        for (const name of Object.keys(overrides)) assert.notProperty(seenGet.headers, name)

        const post = yield* exchange(`${base}/api/v1/orders`, {
          method: "POST",
          headers: { ...overrides, "content-type": "application/json" },
          body: "{\"symbol\":\"BTC\"}"
        })
        assert.strictEqual(post.status, 200)
        const seenPost = yield* lastSeen
        assert.strictEqual(seenPost.method, "POST")
        assert.strictEqual(seenPost.url, "/api/v1/orders")
        for (const name of Object.keys(overrides)) assert.notProperty(seenPost.headers, name)
      }))

    it.effect("forwards Authorization and X-API-Key when hide_credentials is false", () =>
      Effect.gen(function* () {
        yield* exchange(`${yield* gatewayUrl}/api/v1/market-data/symbols`, {
          headers: { authorization: "Bearer abc.def.ghi", "x-api-key": "k-123" }
        })
        const h = (yield* lastSeen).headers
        assert.strictEqual(h.authorization, "Bearer abc.def.ghi")
        assert.strictEqual(h["x-api-key"], "k-123")
      }))

    it.effect("proxies a request that asks for 100-continue (curl does for bodies over 1 KiB)", () =>
      Effect.gen(function* () {
        const body = Buffer.from(JSON.stringify({ symbol: "BTC", note: "x".repeat(2048) }))
        const reply = yield* sendExpectingContinue(yield* gatewayPort, {
          method: "POST",
          path: "/api/v1/orders",
          headers: { "content-type": "application/json" },
          body
        })
        assert.isTrue(reply.continued, "the client got its 100 Continue")
        assert.strictEqual(reply.status, 200, `${reply.text} ${reply.error ?? ""}`)
        const seen = yield* lastSeen
        assert.strictEqual(seen.method, "POST")
        assert.isTrue(seen.body?.equals(body), "the body arrived")
        assert.notProperty(seen.headers, "expect", "the gateway already answered the expectation")
      }))
  })

  class Behind extends Context.Tag("test/ProxyRequestHeaders/Behind")<Behind, ProxyBackend>() {}

  layer(
    gatewayAfter(Behind, startProxyBackend(echo), (b) => ({
      server: { trusted_proxies: ["127.0.0.1/32", "10.0.0.0/8"] },
      auth: { hide_credentials: true },
      services: { market_data: serviceAt(b.url) },
      retry: fastRetry,
      circuit_breaker: quietBreaker
    })),
    realTime
  )((it) => {
    const seenBehind = Effect.map(Behind, (b) => b.seen.at(-1)!)

    it.effect("behind trusted proxies, forwards the trusted chain from the client plus the socket address", () =>
      Effect.gen(function* () {
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/market-data/symbols`, {
          headers: { "x-forwarded-for": "198.51.100.7, 203.0.113.9, 10.1.2.3" }
        })
        assert.strictEqual(res.status, 200)
        // 203.0.113.9 is the rightmost untrusted hop: what is left of it could be spoofed
        assert.strictEqual((yield* seenBehind).headers["x-forwarded-for"], "203.0.113.9, 10.1.2.3, 127.0.0.1")
      }))

    it.effect("a trusted socket without X-Forwarded-For is forwarded as itself", () =>
      Effect.gen(function* () {
        yield* exchange(`${yield* gatewayUrl}/api/v1/market-data/symbols`)
        assert.strictEqual((yield* seenBehind).headers["x-forwarded-for"], "127.0.0.1")
      }))

    it.effect("with hide_credentials strips Authorization and X-API-Key before proxying", () =>
      Effect.gen(function* () {
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/market-data/symbols`, {
          headers: { authorization: "Bearer abc.def.ghi", "x-api-key": "k-123", "x-other": "kept" }
        })
        assert.strictEqual(res.status, 200)
        const h = (yield* seenBehind).headers
        assert.notProperty(h, "authorization")
        assert.notProperty(h, "x-api-key")
        assert.strictEqual(h["x-other"], "kept")
      }))
  })
})
