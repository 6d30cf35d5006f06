import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { realTime, send } from "../support/HttpClient.js"
import { gatewayUrl, makeTestGateway } from "../support/TestGateway.js"

const app = "http://app.example"
const stranger = "http://evil.example"
// `layer`, not `it.layer`: @effect/vitest 0.30's it.layer mutates the shared `it`, so a
// second it.layer in one file would nest inside the first block's gateway.

const preflight = (base: string, path: string, origin: string) =>
  send(`${base}${path}`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type, x-api-key" }
  })

const corsHeaderNames = (headers: Headers) => [...headers.keys()].filter((name) => name.startsWith("access-control-"))

const listOf = (value: string | null) => (value ?? "").split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "")

const assertVaryOrigin = (headers: Headers) =>
  assert.include(listOf(headers.get("vary")), "origin", `Vary should name Origin, got ${headers.get("vary")}`)

describe("Cors", () => {
  layer(
    makeTestGateway({
      auth: { enabled: true, jwt_secret: "x".repeat(40), api_keys: [{ key: "k-admin-123456", role: "admin" }] },
      cors: {
        enabled: true,
        allowed_origins: [app],
        allowed_methods: ["GET", "POST", "DELETE"],
        allowed_headers: ["Content-Type", "X-API-Key", "X-Request-ID"],
        allow_credentials: true,
        max_age: 3600
      }
    }),
    realTime
  )((it) => {
    it.effect("answers a preflight 204 for an API route, an unknown path and /metrics, auth enabled, no credentials", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        for (const path of ["/api/v1/orders", "/api/v1/strategies/7", "/definitely/not/a/route", "/metrics"]) {
          const res = yield* preflight(base, path, app)
          assert.strictEqual(res.status, 204, `preflight ${path}`)
          assert.strictEqual(res.text, "", `preflight ${path} has no body`)
          assert.strictEqual(res.headers.get("access-control-allow-origin"), app, `preflight ${path}`)
        }
      }))

    it.effect("answers a preflight before auth: the same route without a preflight needs credentials", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const pre = yield* preflight(base, "/api/v1/risk/limits", app)
        assert.strictEqual(pre.status, 204)
        const actual = yield* send(`${base}/api/v1/risk/limits`, { headers: { origin: app } })
        assert.strictEqual(actual.status, 401)
        assert.strictEqual(actual.headers.get("access-control-allow-origin"), app, "CORS headers on the 401 too")
      }))

    it.effect("answers a preflight before validation: a refused path still gets 204", () =>
      Effect.gen(function* () {
        const res = yield* preflight(yield* gatewayUrl, "/api/v1/orders%2fx", app)
        assert.strictEqual(res.status, 204)
        assert.strictEqual(res.headers.get("access-control-allow-origin"), app)
      }))

    it.effect("a preflight carries the configured methods, headers, credentials and Max-Age 3600, echoing the origin", () =>
      Effect.gen(function* () {
        const res = yield* preflight(yield* gatewayUrl, "/api/v1/orders", app)
        assert.strictEqual(res.status, 204)
        assert.deepStrictEqual(listOf(res.headers.get("access-control-allow-methods")), ["get", "post", "delete"])
        assert.deepStrictEqual(listOf(res.headers.get("access-control-allow-headers")), ["content-type", "x-api-key", "x-request-id"])
        assert.strictEqual(res.headers.get("access-control-max-age"), "3600")
        assert.strictEqual(res.headers.get("access-control-allow-credentials"), "true")
        assert.strictEqual(res.headers.get("access-control-allow-origin"), app)
        assertVaryOrigin(res.headers)
      }))

    it.effect("an actual request from an allowed origin gets the origin and the exposed gateway headers", () =>
      Effect.gen(function* () {
        const res = yield* send(`${yield* gatewayUrl}/health/liveness`, { headers: { origin: app } })
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.headers.get("access-control-allow-origin"), app)
        assert.strictEqual(res.headers.get("access-control-allow-credentials"), "true")
        assertVaryOrigin(res.headers)
        const exposed = listOf(res.headers.get("access-control-expose-headers"))
        for (const name of ["x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-burst", "ratelimit", "ratelimit-policy", "x-cache", "retry-after"]) {
          assert.include(exposed, name, `Access-Control-Expose-Headers should name ${name}`)
        }
      }))

    it.effect("an error response to an allowed origin carries the CORS headers too", () =>
      Effect.gen(function* () {
        const res = yield* send(`${yield* gatewayUrl}/no/such/route`, { headers: { origin: app } })
        assert.strictEqual(res.status, 404)
        assert.strictEqual(res.headers.get("access-control-allow-origin"), app)
        assert.include(listOf(res.headers.get("access-control-expose-headers")), "x-request-id")
      }))

    it.effect("a disallowed origin gets no CORS headers on an actual request", () =>
      Effect.gen(function* () {
        const res = yield* send(`${yield* gatewayUrl}/health/liveness`, { headers: { origin: stranger } })
        assert.strictEqual(res.status, 200)
        assert.deepStrictEqual(corsHeaderNames(res.headers), [])
      }))

    it.effect("a preflight from a disallowed origin is still 204, without CORS headers", () =>
      Effect.gen(function* () {
        const res = yield* preflight(yield* gatewayUrl, "/api/v1/orders", stranger)
        assert.strictEqual(res.status, 204)
        assert.deepStrictEqual(corsHeaderNames(res.headers), [])
      }))

    it.effect("a request without Origin gets no CORS headers", () =>
      Effect.gen(function* () {
        const res = yield* send(`${yield* gatewayUrl}/health/liveness`)
        assert.deepStrictEqual(corsHeaderNames(res.headers), [])
      }))
  })

  layer(makeTestGateway({ cors: { enabled: true, allowed_origins: ["*"], allow_credentials: false } }), realTime)((it) => {
    it.effect("allows every origin with \"*\" when credentials are off", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const pre = yield* preflight(base, "/api/v1/orders", stranger)
        assert.strictEqual(pre.status, 204)
        assert.strictEqual(pre.headers.get("access-control-allow-origin"), "*")
        assert.isNull(pre.headers.get("access-control-allow-credentials"))
        const res = yield* send(`${base}/health/liveness`, { headers: { origin: stranger } })
        assert.strictEqual(res.headers.get("access-control-allow-origin"), "*")
        assert.include(listOf(res.headers.get("access-control-expose-headers")), "x-request-id")
      }))
  })

  layer(makeTestGateway({ cors: { enabled: true, allowed_origins: ["*"], allow_credentials: true } }), realTime)((it) => {
    it.effect("echoes the origin, never \"*\", when \"*\" is allowed with credentials", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const pre = yield* preflight(base, "/metrics", stranger)
        assert.strictEqual(pre.status, 204)
        assert.strictEqual(pre.headers.get("access-control-allow-origin"), stranger)
        assert.strictEqual(pre.headers.get("access-control-allow-credentials"), "true")
        assertVaryOrigin(pre.headers)
        const res = yield* send(`${base}/health/liveness`, { headers: { origin: app } })
        assert.strictEqual(res.headers.get("access-control-allow-origin"), app)
        assertVaryOrigin(res.headers)
      }))
  })
})
