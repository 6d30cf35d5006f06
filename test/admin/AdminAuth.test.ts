// Issue #11 / SPEC §3: every admin route needs the admin role (API key or JWT), whatever
// auth.enabled says; refusals carry SPEC §4 bodies.
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  admin, adminGateway, adminJwt, adminUrl, adminViews, asAdmin, asOperator, asViewer, basic
} from "../support/AdminGateway.js"
import { apiKeys, tokenFor, bearer } from "../support/AuthTokens.js"
import { rawExchange, rawRequest, realTime, send } from "../support/HttpClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

/** Every route, with a method and a body that makes it succeed for an admin. */
const everyRoute: ReadonlyArray<{ readonly method: string; readonly path: string; readonly body?: unknown; readonly ok: ReadonlyArray<number> }> = [
  ...adminViews.map((path) => ({ method: "GET", path, ok: [200] })),
  { method: "GET", path: "/admin/", ok: [200] },
  { method: "GET", path: "/admin", ok: [200] },
  { method: "POST", path: "/admin/services/market_data/reset", ok: [200] },
  { method: "POST", path: "/admin/cache/purge", body: { prefix: "/api/v1/market-data" }, ok: [200] },
  // a literal test config has no file: the outcome is a refusal, answered 422
  { method: "POST", path: "/admin/reload", ok: [422] }
]

const assertRefusal = (res: { status: number; json: Record<string, unknown> | undefined; headers: Headers }, status: number, error: string, what: string) => {
  assert.strictEqual(res.status, status, what)
  assert.strictEqual(res.json?.error, error, what)
  assert.isString(res.json?.request_id, `${what}: request_id`)
  assert.strictEqual(res.json?.request_id, res.headers.get("x-request-id"), `${what}: the body's request_id is the header's`)
}

const withCacheRule = { cache: { enabled: true, rules: { "/api/v1/market-data": { ttl: "30s" } } } }

describe("AdminAuth", () => {
  layer(adminGateway(withCacheRule), realTime)((it) => {
    it.effect("answers every route to an admin API key and to an admin JWT", () =>
      Effect.gen(function* () {
        const jwt = yield* adminJwt
        for (const credentials of [asAdmin, jwt]) {
          for (const r of everyRoute) {
            const res = yield* admin(r.path, { method: r.method, headers: credentials, body: r.body })
            assert.include(r.ok, res.status, `${r.method} ${r.path} with ${Object.keys(credentials)[0]}: ${res.text.slice(0, 200)}`)
            assert.strictEqual(res.headers.get("cache-control"), "no-store", `${r.method} ${r.path}`)
            assert.isNotNull(res.headers.get("x-request-id"))
          }
        }
      }))

    it.effect("refuses viewer and operator keys and tokens with 403 on every route", () =>
      Effect.gen(function* () {
        const lower = [asViewer, asOperator, bearer(yield* tokenFor("alice", "operator")), bearer(yield* tokenFor("bob", "viewer"))]
        for (const credentials of lower) {
          for (const r of everyRoute) {
            const res = yield* admin(r.path, { method: r.method, headers: credentials, body: r.body })
            assertRefusal(res, 403, "Insufficient permissions", `${r.method} ${r.path}`)
          }
        }
      }))

    it.effect("refuses a request without credentials with 401 and WWW-Authenticate: Bearer", () =>
      Effect.gen(function* () {
        for (const r of everyRoute.filter((r) => r.path !== "/admin/" && r.path !== "/admin")) {
          const res = yield* admin(r.path, { method: r.method, body: r.body })
          assertRefusal(res, 401, "Authentication required", `${r.method} ${r.path}`)
          assert.strictEqual(res.headers.get("www-authenticate"), "Bearer")
        }
      }))

    it.effect("refuses unknown keys, bad tokens and duplicated credentials", () =>
      Effect.gen(function* () {
        assertRefusal(yield* admin("/admin/services", { headers: { "x-api-key": "nope-not-a-key" } }), 401, "Invalid API key", "unknown key")
        assertRefusal(yield* admin("/admin/services", { headers: bearer("a.b.c") }), 401, "Invalid or expired token", "bad token")
        const port = Number(new URL(yield* adminUrl).port)
        const doubled = yield* rawExchange(port, rawRequest("GET /admin/services HTTP/1.1", [`X-API-Key: ${apiKeys.admin}`, `X-API-Key: ${apiKeys.admin}`]))
        assert.strictEqual(doubled.status, 400, "duplicated X-API-Key")
        assert.strictEqual(doubled.json?.error, "Bad request")
      }))

    it.effect("the dashboard challenges a browser with Basic and accepts the admin key as its password, for GET only", () =>
      Effect.gen(function* () {
        const none = yield* admin("/admin/")
        assertRefusal(none, 401, "Authentication required", "GET /admin/ without credentials")
        assert.match(none.headers.get("www-authenticate") ?? "", /^Basic realm="api-gateway admin"/)
        const page = yield* admin("/admin/", { headers: basic(apiKeys.admin) })
        assert.strictEqual(page.status, 200)
        assert.match(page.headers.get("content-type") ?? "", /^text\/html/)
        assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/)
        assert.strictEqual((yield* admin("/admin/status", { headers: basic(apiKeys.admin) })).status, 200, "the page's fetches")
        assertRefusal(yield* admin("/admin/", { headers: basic(apiKeys.viewer) }), 403, "Insufficient permissions", "a viewer's key")
        assertRefusal(yield* admin("/admin/", { headers: basic("wrong") }), 401, "Invalid API key", "a wrong password")
        // a cross-site form would carry a browser's Basic credentials: actions never take them
        assertRefusal(yield* admin("/admin/reload", { method: "POST", headers: basic(apiKeys.admin) }), 401, "Authentication required", "Basic on POST")
      }))

    it.effect("answers unknown paths 404 and known paths with another method 405, to an admin only", () =>
      Effect.gen(function* () {
        assertRefusal(yield* admin("/admin/nope"), 401, "Authentication required", "unknown path, no credentials")
        assertRefusal(yield* admin("/admin/nope", { headers: asAdmin }), 404, "Not found", "unknown path")
        assertRefusal(yield* admin("/", { headers: asAdmin }), 404, "Not found", "root")
        const wrong = yield* admin("/admin/reload", { headers: asAdmin })
        assertRefusal(wrong, 405, "Method not allowed", "GET /admin/reload")
        assert.strictEqual(wrong.headers.get("allow"), "POST")
        assert.strictEqual((yield* admin("/admin/services", { method: "DELETE", headers: asAdmin })).headers.get("allow"), "GET")
      }))

    it.effect("the main listener does not serve the admin API", () =>
      Effect.gen(function* () {
        const res = yield* send(`${yield* gatewayUrl}/admin/services`, { headers: asAdmin })
        assert.strictEqual(res.status, 404)
        assert.notStrictEqual(yield* adminUrl, yield* gatewayUrl)
      }))
  })

  layer(adminGateway({ auth: { enabled: false } }), realTime)((it) => {
    it.effect("still requires the admin role with auth.enabled false", () =>
      Effect.gen(function* () {
        for (const r of everyRoute) {
          const res = yield* admin(r.path, { method: r.method, body: r.body })
          assertRefusal(res, 401, "Authentication required", `${r.method} ${r.path} with auth off`)
        }
        assertRefusal(yield* admin("/admin/services", { headers: asViewer }), 403, "Insufficient permissions", "a viewer key with auth off")
        assert.strictEqual((yield* admin("/admin/services", { headers: asAdmin })).status, 200)
        assert.strictEqual((yield* admin("/admin/services", { headers: yield* adminJwt })).status, 200)
        // the main listener is open, as SPEC §3 says for auth.enabled false
        assert.strictEqual((yield* send(`${yield* gatewayUrl}/health/liveness`)).status, 200)
      }))
  })
})
