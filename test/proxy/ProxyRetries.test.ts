import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { realTime } from "../support/HttpClient.js"
import { fastRetry, gatewayAfter, json, type ProxyBackend, quietBreaker, type Respond, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { exchange, newCase } from "../support/ProxyClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

class Backend extends Context.Tag("test/ProxyRetries/Backend")<Backend, ProxyBackend>() {}

/** Answers attempt n of a case with the n-th status of `script` (the last one repeats), after `delay` ms. */
const scripted: Respond = (req, res, seen) => {
  const query = new URL(req.url ?? "/", "http://b").searchParams
  const script = (query.get("script") ?? "200").split(",").map(Number)
  const status = script[Math.min(seen.attempt, script.length - 1)]!
  const answer = () => json(res, status, { attempt: seen.attempt + 1, status }, { "x-attempt": String(seen.attempt + 1), "retry-after": "7" })
  const delay = Number(query.get("delay") ?? 0)
  if (delay > 0) setTimeout(answer, delay)
  else answer()
}

const Gateway = gatewayAfter(Backend, startProxyBackend(scripted), (b) => ({
  services: {
    market_data: serviceAt(b.url, { max_retries: 2 }),
    order_execution: serviceAt(b.url, { max_retries: 2 }),
    strategy_engine: serviceAt(b.url, { max_retries: 2 }),
    account_monitor: serviceAt(b.url, { max_retries: 0 })
  },
  retry: fastRetry,
  circuit_breaker: quietBreaker
}))

/** One request through the gateway with a fresh case; the backend's view of the case with it. */
const run = (method: string, path: string, script: string, init: RequestInit = {}) =>
  Effect.gen(function* () {
    const id = newCase(method)
    const res = yield* exchange(`${yield* gatewayUrl}${path}?case=${id}&script=${script}`, { method, ...init })
    return { res, seen: (yield* Backend).ofCase(id) }
  })

const order = JSON.stringify({ symbol: "BTC-USD", side: "buy", qty: 1 })
const jsonBody = (body: string, headers: Record<string, string> = {}): RequestInit => ({
  headers: { "content-type": "application/json", ...headers },
  body
})

// max_retries 2, backoff 20 ms × 2^n with jitter [0.8, 1.2]: at least 16 + 32 ms before the third attempt
const minimumBackoffMs = 0.8 * (20 + 40)

describe("Proxy", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("retries a GET answered 503 once, and returns the 200 that followed", () =>
      Effect.gen(function* () {
        const { res, seen } = yield* run("GET", "/api/v1/market-data/ticker/BTC", "503,200")
        assert.strictEqual(res.status, 200)
        assert.deepStrictEqual(res.json, { attempt: 2, status: 200 })
        assert.strictEqual(seen.length, 2)
      }))

    it.effect("retries 502 and 504 as well", () =>
      Effect.gen(function* () {
        const { res, seen } = yield* run("GET", "/api/v1/market-data/ticker/BTC", "502,504,200")
        assert.strictEqual(res.status, 200)
        assert.strictEqual(seen.length, 3)
      }))

    it.effect("after 1 + max_retries attempts passes the backend's last 503 through, body and headers", () =>
      Effect.gen(function* () {
        const { res, seen } = yield* run("GET", "/api/v1/market-data/ticker/BTC", "503")
        assert.strictEqual(seen.length, 3, "1 + max_retries attempts")
        assert.strictEqual(res.status, 503)
        assert.deepStrictEqual(res.json, { attempt: 3, status: 503 }, "the last response, not the gateway's error")
        assert.strictEqual(res.headers.get("x-attempt"), "3")
        assert.strictEqual(res.headers.get("retry-after"), "7")
        assert.isAtLeast(res.elapsedMs, minimumBackoffMs, "the retries waited for the backoff")
      }))

    it.effect("does not retry statuses other than 502/503/504 (429, 500, 501)", () =>
      Effect.gen(function* () {
        for (const status of ["429", "500", "501"]) {
          const { res, seen } = yield* run("GET", "/api/v1/market-data/ticker/BTC", `${status},200`)
          assert.strictEqual(res.status, Number(status))
          assert.strictEqual(seen.length, 1, `${status} is passed through at once`)
        }
      }))

    it.effect("never retries a POST answered 503: exactly one backend request", () =>
      Effect.gen(function* () {
        const { res, seen } = yield* run("POST", "/api/v1/orders", "503,201", jsonBody(order))
        assert.strictEqual(seen.length, 1, "an order must never be placed twice")
        assert.strictEqual(res.status, 503)
        assert.deepStrictEqual(res.json, { attempt: 1, status: 503 })
      }))

    it.effect("retries a POST carrying an Idempotency-Key, replaying the same body: 1 + max_retries requests", () =>
      Effect.gen(function* () {
        const { res, seen } = yield* run("POST", "/api/v1/orders", "503", jsonBody(order, { "idempotency-key": "order-7f3a" }))
        assert.strictEqual(seen.length, 3)
        assert.strictEqual(res.status, 503)
        assert.deepStrictEqual(res.json, { attempt: 3, status: 503 })
        for (const s of seen) {
          assert.strictEqual(s.body?.toString("utf8"), order, `attempt ${s.attempt + 1} got the whole body`)
          assert.strictEqual(s.headers["idempotency-key"], "order-7f3a")
          assert.strictEqual(s.headers["content-length"], String(Buffer.byteLength(order)))
        }
      }))

    it.effect("a POST with an Idempotency-Key succeeds on a later attempt", () =>
      Effect.gen(function* () {
        const { res, seen } = yield* run("POST", "/api/v1/orders", "503,201", jsonBody(order, { "idempotency-key": "order-8" }))
        assert.strictEqual(res.status, 201)
        assert.strictEqual(seen.length, 2)
      }))

    it.effect("retries the idempotent DELETE and PUT, replaying the PUT body", () =>
      Effect.gen(function* () {
        const del = yield* run("DELETE", "/api/v1/orders/42", "503,200")
        assert.strictEqual(del.res.status, 200)
        assert.strictEqual(del.seen.length, 2)
        const body = JSON.stringify({ name: "grid", params: { levels: 12 } })
        const put = yield* run("PUT", "/api/v1/strategies/7", "502,200", jsonBody(body))
        assert.strictEqual(put.res.status, 200)
        assert.strictEqual(put.seen.length, 2)
        for (const s of put.seen) assert.strictEqual(s.body?.toString("utf8"), body)
      }))

    it.effect("makes a single attempt for a service with max_retries 0", () =>
      Effect.gen(function* () {
        const { res, seen } = yield* run("GET", "/api/v1/account/balance", "503,200")
        assert.strictEqual(res.status, 503)
        assert.strictEqual(seen.length, 1)
      }))

    it.effect("lets only one of two concurrent failing requests retry (budget_ratio 0.2, at least one)", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const backend = yield* Backend
        const ids = [newCase("budget-a"), newCase("budget-b")]
        // both in flight together: max(1, floor(0.2 × 2)) = 1 retrying request at a time
        const replies = yield* Effect.forEach(ids, (id) => exchange(`${base}/api/v1/market-data/ticker/BTC?case=${id}&script=503&delay=250`), {
          concurrency: "unbounded"
        })
        for (const r of replies) assert.strictEqual(r.status, 503)
        const attempts = ids.map((id) => backend.ofCase(id).length).sort()
        assert.deepStrictEqual(attempts, [1, 3], "one request retried fully, the other was passed through after its first attempt")
      }))

    it.effect("each attempt carries the same request id and trace id upstream", () =>
      Effect.gen(function* () {
        const { seen } = yield* run("GET", "/api/v1/market-data/ticker/ETH", "503,503,200", { headers: { "x-request-id": "retry-rid-1" } })
        assert.strictEqual(seen.length, 3)
        const traceIds = new Set(seen.map((s) => String(s.headers.traceparent).split("-")[1]))
        assert.strictEqual(traceIds.size, 1, "one trace for the request")
        for (const s of seen) assert.strictEqual(s.headers["x-request-id"], "retry-rid-1")
      }))
  })
})
