// SPEC §4 Rate limits over real sockets, memory store: the 429 answers, the headers of the
// responses that passed, exempt and unmatched paths, the metric, and client addresses.
// Refill rates are tiny wherever counts matter, so real time adds no token mid-test.
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { backendNamed } from "../support/HttpBackend.js"
import { type Reply, realTime } from "../support/HttpClient.js"
import { countOf, hit, metric, rateLimitedGateway, rateLimitHeaders, statusesOf } from "../support/RateGateway.js"

const exceeded = "api_gateway_rate_limit_exceeded_total"

const assertRefused = (reply: Reply, message: string, maxRetryAfter: number) => {
  assert.strictEqual(reply.status, 429, message)
  assert.strictEqual(reply.json?.error, message)
  assert.isString(reply.json?.request_id, "every error body carries request_id")
  const retryAfter = reply.headers.get("retry-after") ?? ""
  assert.match(retryAfter, /^\d+$/, "Retry-After in whole seconds")
  assert.isAtLeast(Number(retryAfter), 1)
  assert.isAtMost(Number(retryAfter), maxRetryAfter)
  return Number(retryAfter)
}

const assertNoRateLimitHeaders = (reply: Reply, what: string) =>
  assert.deepStrictEqual(rateLimitHeaders(reply), { limit: null, burst: null, remaining: null, policy: null, state: null }, what)

/** `"<scope>";r=<n>;t=<seconds>`, t as a number. */
const stateOf = (reply: Reply) => {
  const m = /^"(global|ip|endpoint)";r=(\d+);t=(\d+)$/.exec(reply.headers.get("ratelimit") ?? "")
  assert.isNotNull(m, `RateLimit header: ${reply.headers.get("ratelimit")}`)
  return { scope: m![1], r: Number(m![2]), t: Number(m![3]) }
}

describe("Responses", () => {
  describe("global bucket (rps 0.01, burst 3)", () => {
    layer(rateLimitedGateway({ global: { requests_per_second: 0.01, burst: 3 } }), realTime)((it) => {
      it.effect("public endpoints and unmatched paths take tokens, then everything but exempt paths gets 429 Global", () =>
        Effect.gen(function* () {
          const version = yield* hit("/version")
          assert.strictEqual(version.status, 200)
          assert.deepStrictEqual(rateLimitHeaders(version), {
            limit: "0.01", burst: "3", remaining: "2", policy: "\"global\";q=3;w=300", state: "\"global\";r=2;t=0"
          })
          const missing = yield* hit("/no/such/route")
          assert.strictEqual(missing.status, 404, "an unmatched path passes the limits, then gets its 404")
          assert.strictEqual(missing.headers.get("x-ratelimit-remaining"), "1")
          const proxied = yield* hit("/api/v1/orders")
          assert.strictEqual(proxied.status, 200)
          assert.strictEqual(proxied.headers.get("x-ratelimit-remaining"), "0")
          const last = stateOf(proxied)
          assert.strictEqual(last.scope, "global")
          assert.strictEqual(last.r, 0)
          assert.isAtLeast(last.t, 95, "rps 0.01: about 100 s until the next token")
          assert.isAtMost(last.t, 100)

          assertRefused(yield* hit("/no/such/route"), "Global rate limit exceeded", 100)
          assertRefused(yield* hit("/version"), "Global rate limit exceeded", 100)
          assertRefused(yield* hit("/health"), "Global rate limit exceeded", 100)
          assertRefused(yield* hit("/api/v1/orders/7"), "Global rate limit exceeded", 100)
          assertRefused(yield* hit("/api/v1/orders/7", undefined, { method: "DELETE" }), "Global rate limit exceeded", 100)
          // a wrong method is limited before its 405 (its label is not asserted: the path matched, the method did not)
          assertRefused(yield* hit("/api/v1/orders/7", undefined, { method: "PATCH" }), "Global rate limit exceeded", 100)

          for (let i = 0; i < 5; i++) {
            const live = yield* hit("/health/liveness")
            assert.strictEqual(live.status, 200, "an exempt path is never refused")
            assert.deepStrictEqual(live.json, { status: "alive" })
            assertNoRateLimitHeaders(live, "an exempt path carries no rate-limit headers")
          }

          assert.isAtLeast(yield* metric(exceeded, { endpoint: "unmatched", limiter_type: "global" }), 1)
          assert.strictEqual(yield* metric(exceeded, { endpoint: "/version", limiter_type: "global" }), 1)
          assert.strictEqual(yield* metric(exceeded, { endpoint: "/health", limiter_type: "global" }), 1)
          assert.strictEqual(yield* metric(exceeded, { endpoint: "/api/v1/orders/:id", limiter_type: "global" }), 2, "GET and DELETE: the route template, never the raw path")
          assert.strictEqual(yield* metric(exceeded, { endpoint: "/api/v1/orders/7" }), 0)
          assert.strictEqual(yield* metric(exceeded), 6)
          assert.strictEqual(yield* metric(exceeded, { limiter_type: "global" }), 6)
        }))
    })
  })

  describe("global bucket (rps 4, burst 1)", () => {
    layer(rateLimitedGateway({ global: { requests_per_second: 4, burst: 1 } }), realTime)((it) => {
      it.effect("Retry-After is rounded up to a whole second, never 0", () =>
        Effect.gen(function* () {
          assert.strictEqual((yield* hit("/version")).status, 200)
          const refused = yield* hit("/version")
          assert.strictEqual(assertRefused(refused, "Global rate limit exceeded", 1), 1, "250 ms until a token: Retry-After 1")
        }))
    })
  })

  describe("ip bucket (0.6 per minute, burst 2)", () => {
    layer(rateLimitedGateway({ per_ip: { requests_per_minute: 0.6, burst: 2 } }), realTime)((it) => {
      it.effect("X-RateLimit-Limit is the per-minute rate; the third request gets 429 IP", () =>
        Effect.gen(function* () {
          const first = yield* hit("/api/v1/account/balance")
          assert.strictEqual(first.status, 200)
          assert.deepStrictEqual(rateLimitHeaders(first), {
            limit: "0.6", burst: "2", remaining: "1", policy: "\"ip\";q=2;w=200", state: "\"ip\";r=1;t=0"
          })
          const second = yield* hit("/api/v1/account/balance")
          assert.strictEqual(second.headers.get("x-ratelimit-remaining"), "0")
          assert.isAtLeast(stateOf(second).t, 95)
          const retryAfter = assertRefused(yield* hit("/api/v1/account/balance"), "IP rate limit exceeded", 100)
          assert.isAtLeast(retryAfter, 95, "0.6 per minute: about 100 s until a token")
          assert.strictEqual(yield* metric(exceeded, { endpoint: "/api/v1/account/balance", limiter_type: "ip" }), 1)
        }))
    })
  })

  describe("endpoint bucket (rps 0.1, burst 2) under a 6/min ip bucket", () => {
    layer(rateLimitedGateway({
      per_ip: { requests_per_minute: 6, burst: 4 },
      endpoints: { "/api/v1/orders": { requests_per_second: 0.1, burst: 2 } }
    }), realTime)((it) => {
      it.effect("the headers describe the bucket with the fewest tokens; the endpoint refuses with 429 Endpoint", () =>
        Effect.gen(function* () {
          const balance = yield* hit("/api/v1/account/balance") // ip 3 left, global plenty
          assert.deepStrictEqual(rateLimitHeaders(balance), {
            limit: "6", burst: "4", remaining: "3", policy: "\"ip\";q=4;w=40", state: "\"ip\";r=3;t=0"
          })
          const order = yield* hit("/api/v1/orders/42") // ip 2, endpoint 1
          assert.strictEqual(order.status, 200)
          assert.deepStrictEqual(rateLimitHeaders(order), {
            limit: "0.1", burst: "2", remaining: "1", policy: "\"endpoint\";q=2;w=20", state: "\"endpoint\";r=1;t=0"
          })
          const again = yield* hit("/api/v1/orders") // ip 1, endpoint 0
          assert.strictEqual(again.headers.get("x-ratelimit-remaining"), "0")
          assert.deepStrictEqual(stateOf(again), { scope: "endpoint", r: 0, t: 10 })
          assertRefused(yield* hit("/api/v1/orders/43"), "Endpoint rate limit exceeded", 10)
          assert.strictEqual(yield* metric(exceeded, { endpoint: "/api/v1/orders/:id", limiter_type: "endpoint" }), 1)
          // the endpoint refusal took the ip token before it: the ip bucket is empty now
          assertRefused(yield* hit("/api/v1/account/balance"), "IP rate limit exceeded", 10)
        }))
    })
  })

  describe("trusted proxies [127.0.0.1/32], ip burst 2", () => {
    layer(rateLimitedGateway(
      { per_ip: { requests_per_minute: 0.001, burst: 2 } },
      { server: { trusted_proxies: ["127.0.0.1/32"] } }
    ), realTime)((it) => {
      it.effect("each forwarded client address has its own ip bucket; the backend sees the chain plus the socket", () =>
        Effect.gen(function* () {
          const backend = yield* backendNamed("backend")
          assert.deepStrictEqual(yield* statusesOf(2, "/api/v1/account/balance", "198.51.100.1"), [200, 200])
          assert.strictEqual(backend.requests.at(-1)?.headers["x-forwarded-for"], "198.51.100.1, 127.0.0.1")
          assertRefused(yield* hit("/api/v1/account/balance", "198.51.100.1"), "IP rate limit exceeded", 1e9)
          // a spoofed entry to the left does not buy a new bucket
          assertRefused(yield* hit("/api/v1/account/balance", "203.0.113.66, 198.51.100.1"), "IP rate limit exceeded", 1e9)

          assert.deepStrictEqual(yield* statusesOf(2, "/api/v1/account/balance", "198.51.100.2"), [200, 200])
          assert.strictEqual(backend.requests.at(-1)?.headers["x-forwarded-for"], "198.51.100.2, 127.0.0.1")
          const spoofed = yield* hit("/api/v1/account/balance", "203.0.113.66, 198.51.100.3")
          assert.strictEqual(spoofed.status, 200)
          assert.strictEqual(backend.requests.at(-1)?.headers["x-forwarded-for"], "198.51.100.3, 127.0.0.1", "entries left of the client are dropped")

          const direct = yield* hit("/api/v1/account/balance") // no header: the proxy's own address is the client
          assert.strictEqual(direct.status, 200)
          assert.strictEqual(backend.requests.at(-1)?.headers["x-forwarded-for"], "127.0.0.1")
        }))
    })
  })

  describe("no trusted proxies, ip burst 2", () => {
    layer(rateLimitedGateway({ per_ip: { requests_per_minute: 0.001, burst: 2 } }), realTime)((it) => {
      it.effect("X-Forwarded-For is ignored: every address shares the socket's bucket, and is dropped upstream", () =>
        Effect.gen(function* () {
          const backend = yield* backendNamed("backend")
          assert.strictEqual((yield* hit("/api/v1/account/balance", "198.51.100.1")).status, 200)
          assert.strictEqual(backend.requests.at(-1)?.headers["x-forwarded-for"], "127.0.0.1")
          assert.strictEqual((yield* hit("/api/v1/account/balance", "198.51.100.2")).status, 200)
          assertRefused(yield* hit("/api/v1/account/balance", "198.51.100.3"), "IP rate limit exceeded", 1e9)
          assertRefused(yield* hit("/api/v1/account/balance"), "IP rate limit exceeded", 1e9)
        }))
    })
  })

  describe("rate_limit.enabled: false", () => {
    layer(rateLimitedGateway({ enabled: false, global: { requests_per_second: 0.001, burst: 1 }, per_ip: { requests_per_minute: 0.001, burst: 1 } }), realTime)((it) => {
      it.effect("nothing is limited and no response carries rate-limit headers", () =>
        Effect.gen(function* () {
          const statuses = yield* statusesOf(10, "/api/v1/orders")
          assert.strictEqual(countOf(statuses, 200), 10)
          for (const path of ["/api/v1/orders/1", "/no/such/route", "/version", "/health"]) {
            const reply = yield* hit(path)
            assert.notStrictEqual(reply.status, 429, path)
            assertNoRateLimitHeaders(reply, path)
          }
          assert.strictEqual(yield* metric(exceeded), 0)
        }))
    })
  })
})
