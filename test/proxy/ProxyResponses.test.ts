import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { ServerResponse } from "node:http"
import { realTime } from "../support/HttpClient.js"
import { echo, fastRetry, gatewayAfter, json, type ProxyBackend, quietBreaker, type Respond, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { exchange, newCase } from "../support/ProxyClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

class Backend extends Context.Tag("test/ProxyResponses/Backend")<Backend, ProxyBackend>() {}

const problem = JSON.stringify({ type: "about:blank", title: "no such symbol", status: 404 })

/** What the backend answers, by the `reply` query parameter. */
const replies: Record<string, (res: ServerResponse) => void> = {
  decorated: (res) => {
    const body = "{\"price\":42}"
    res.writeHead(201, {
      "content-type": "application/vnd.prices+json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      "cache-control": "max-age=5",
      etag: "\"v42\"",
      "x-custom": "kept",
      "set-cookie": ["a=1; Path=/", "b=2; HttpOnly"],
      server: "backend/1.2.3",
      "x-powered-by": "Express",
      connection: "x-hop-secret",
      "x-hop-secret": "do-not-pass",
      "keep-alive": "timeout=99, max=7",
      "proxy-connection": "keep-alive"
    })
    res.end(body)
  },
  notFound: (res) => {
    res.writeHead(404, { "content-type": "application/problem+json", "content-length": Buffer.byteLength(problem), "x-backend": "yes" })
    res.end(problem)
  },
  serverError: (res) => {
    res.writeHead(500, { "content-type": "text/plain", "x-backend": "yes" })
    res.end("backend exploded: stack trace of the backend")
  },
  teapot: (res) => json(res, 418, { brewing: false }),
  noContent: (res) => {
    res.writeHead(204, { "x-backend": "yes" })
    res.end()
  },
  chunked: (res) => {
    res.writeHead(200, { "content-type": "text/plain" })
    res.write("part one, ")
    setTimeout(() => res.end("part two"), 20)
  }
}

const respond: Respond = (req, res, seen) => {
  const reply = new URL(req.url ?? "/", "http://b").searchParams.get("reply")
  const answer = reply === null ? undefined : replies[reply]
  return answer === undefined ? echo(req, res, seen) : answer(res)
}

const Gateway = gatewayAfter(Backend, startProxyBackend(respond), (b) => ({
  services: { market_data: serviceAt(b.url), order_execution: serviceAt(b.url) },
  retry: fastRetry,
  circuit_breaker: quietBreaker
}))

const get = (reply: string) =>
  Effect.gen(function* () {
    const id = newCase(reply)
    const res = yield* exchange(`${yield* gatewayUrl}/api/v1/market-data/ticker/BTC?reply=${reply}&case=${id}`, {
      headers: { "x-request-id": `rid-${id}` }
    })
    return { res, id, attempts: (yield* Backend).ofCase(id).length }
  })

describe("ProxyHeaders", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("passes status, body and end-to-end headers through, Set-Cookie values separate", () =>
      Effect.gen(function* () {
        const { res } = yield* get("decorated")
        assert.strictEqual(res.status, 201)
        assert.strictEqual(res.text, "{\"price\":42}")
        assert.strictEqual(res.headers.get("content-type"), "application/vnd.prices+json; charset=utf-8")
        assert.strictEqual(res.headers.get("cache-control"), "max-age=5")
        assert.strictEqual(res.headers.get("etag"), "\"v42\"")
        assert.strictEqual(res.headers.get("x-custom"), "kept")
        assert.deepStrictEqual(res.headers.getSetCookie(), ["a=1; Path=/", "b=2; HttpOnly"])
      }))

    it.effect("removes Server, X-Powered-By and the backend's hop-by-hop headers; adds X-Request-ID", () =>
      Effect.gen(function* () {
        const { id, res } = yield* get("decorated")
        assert.isNull(res.headers.get("server"))
        assert.isNull(res.headers.get("x-powered-by"))
        assert.isNull(res.headers.get("x-hop-secret"), "a header the backend named in Connection")
        assert.isNull(res.headers.get("proxy-connection"))
        assert.notInclude(res.headers.get("keep-alive") ?? "", "timeout=99", "the backend's Keep-Alive is not the client's")
        assert.notInclude((res.headers.get("connection") ?? "").toLowerCase(), "x-hop-secret")
        assert.strictEqual(res.headers.get("x-request-id"), `rid-${id}`)
      }))

    it.effect("passes a backend 404 through untouched, body and all, not the gateway's Not found", () =>
      Effect.gen(function* () {
        const { attempts, res } = yield* get("notFound")
        assert.strictEqual(res.status, 404)
        assert.strictEqual(res.text, problem)
        assert.strictEqual(res.headers.get("content-type"), "application/problem+json")
        assert.strictEqual(res.headers.get("x-backend"), "yes")
        assert.isNotNull(res.headers.get("x-request-id"))
        assert.strictEqual(attempts, 1)
      }))

    it.effect("passes a backend 500 through untouched and does not retry it", () =>
      Effect.gen(function* () {
        const { attempts, res } = yield* get("serverError")
        assert.strictEqual(res.status, 500)
        assert.strictEqual(res.text, "backend exploded: stack trace of the backend")
        assert.strictEqual(res.headers.get("content-type"), "text/plain")
        assert.strictEqual(res.headers.get("x-backend"), "yes")
        assert.strictEqual(attempts, 1, "500 is not a retryable status")
      }))

    it.effect("passes other statuses through: 418 with its body, 204 without one", () =>
      Effect.gen(function* () {
        const teapot = yield* get("teapot")
        assert.strictEqual(teapot.res.status, 418)
        assert.deepStrictEqual(teapot.res.json, { brewing: false })
        const empty = yield* get("noContent")
        assert.strictEqual(empty.res.status, 204)
        assert.strictEqual(empty.res.text, "")
        assert.strictEqual(empty.res.headers.get("x-backend"), "yes")
      }))

    it.effect("streams a chunked backend body of unknown length through", () =>
      Effect.gen(function* () {
        const { res } = yield* get("chunked")
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.text, "part one, part two")
        assert.isUndefined(res.failed)
      }))
  })
})
