import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { authGateway, call, seen, theBackend } from "../support/AuthGateway.js"
import { apiKey, apiKeys, bearer, type Role, roles, tokenFor } from "../support/AuthTokens.js"
import { assertErrorReply, fromFetch, fromRaw } from "../support/HttpErrors.js"
import { gatewayPort, rawExchange, rawRequest, realTime } from "../support/HttpClient.js"

// The role table, written from SPEC §3 (rules) and the seed's section 4 (the 33 routes),
// not from src/domain/RouteTable.ts. Parameters are filled with sample values.
interface RouteCase {
  readonly method: string
  readonly path: string
  readonly needs: Role
}

interface RouteClass {
  readonly prefix: string
  readonly rule: string
  readonly routes: ReadonlyArray<RouteCase>
}

const route = (method: string, path: string, needs: Role): RouteCase => ({ method, path, needs })

const specTable: ReadonlyArray<RouteClass> = [
  {
    prefix: "/api/v1/market-data",
    rule: "viewer for all four routes",
    routes: [
      route("GET", "/api/v1/market-data/symbols", "viewer"),
      route("GET", "/api/v1/market-data/orderbook/BTC-USD", "viewer"),
      route("GET", "/api/v1/market-data/trades/BTC-USD", "viewer"),
      route("GET", "/api/v1/market-data/ticker/BTC-USD", "viewer")
    ]
  },
  {
    prefix: "/api/v1/orders",
    rule: "operator for all six routes",
    routes: [
      route("POST", "/api/v1/orders", "operator"),
      route("GET", "/api/v1/orders/ord-42", "operator"),
      route("GET", "/api/v1/orders", "operator"),
      route("DELETE", "/api/v1/orders/ord-42", "operator"),
      route("GET", "/api/v1/orders/active", "operator"),
      route("GET", "/api/v1/orders/history", "operator")
    ]
  },
  {
    prefix: "/api/v1/strategies",
    rule: "operator; admin for POST /, PUT /:id, DELETE /:id",
    routes: [
      route("GET", "/api/v1/strategies", "operator"),
      route("GET", "/api/v1/strategies/strat-7", "operator"),
      route("POST", "/api/v1/strategies", "admin"),
      route("PUT", "/api/v1/strategies/strat-7", "admin"),
      route("DELETE", "/api/v1/strategies/strat-7", "admin"),
      route("POST", "/api/v1/strategies/strat-7/start", "operator"),
      route("POST", "/api/v1/strategies/strat-7/stop", "operator"),
      route("GET", "/api/v1/strategies/strat-7/status", "operator")
    ]
  },
  {
    prefix: "/api/v1/account",
    rule: "viewer for all five routes",
    routes: [
      route("GET", "/api/v1/account/balance", "viewer"),
      route("GET", "/api/v1/account/positions", "viewer"),
      route("GET", "/api/v1/account/pnl", "viewer"),
      route("GET", "/api/v1/account/pnl/daily", "viewer"),
      route("GET", "/api/v1/account/trades", "viewer")
    ]
  },
  {
    prefix: "/api/v1/risk",
    rule: "operator; admin for PUT /limits, POST /emergency-stop",
    routes: [
      route("GET", "/api/v1/risk/limits", "operator"),
      route("PUT", "/api/v1/risk/limits", "admin"),
      route("GET", "/api/v1/risk/status", "operator"),
      route("POST", "/api/v1/risk/emergency-stop", "admin")
    ]
  },
  {
    prefix: "/api/v1/config",
    rule: "operator; admin for PUT /:key, DELETE /:key",
    routes: [
      route("GET", "/api/v1/config", "operator"),
      route("GET", "/api/v1/config/max_position", "operator"),
      route("PUT", "/api/v1/config/max_position", "admin"),
      route("DELETE", "/api/v1/config/max_position", "admin")
    ]
  },
  {
    prefix: "/api/v1/dashboard",
    rule: "viewer for both routes",
    routes: [
      route("GET", "/api/v1/dashboard/status", "viewer"),
      route("GET", "/api/v1/dashboard/summary", "viewer")
    ]
  }
]

const allRoutes = specTable.flatMap((c) => c.routes)

/** SPEC §3: viewer < operator < admin; a route needs at least the role named. */
const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }
const allows = (held: Role, needed: Role): boolean => rank[held] >= rank[needed]

type Via = "API key" | "JWT"

const credentialsFor = (via: Via) =>
  Effect.gen(function* () {
    const out: Partial<Record<Role, Record<string, string>>> = {}
    for (const role of roles) out[role] = via === "API key" ? apiKey(apiKeys[role]) : bearer(yield* tokenFor(`${role}-user`, role))
    return out as Record<Role, Record<string, string>>
  })

const publicPaths = ["/health", "/health/liveness", "/health/readiness", "/metrics", "/version"]
const app = "http://app.example"

describe("Roles", () => {
  layer(authGateway(() => ({ cors: { enabled: true, allowed_origins: [app] } })), realTime)((it) => {
    it.effect("the table written from SPEC §3 covers the seed's 33 routes", () =>
      Effect.sync(() => {
        assert.strictEqual(allRoutes.length, 33)
        assert.strictEqual(new Set(allRoutes.map((r) => `${r.method} ${r.path}`)).size, 33)
      }))

    for (const cls of specTable) {
      for (const via of ["API key", "JWT"] as const) {
        it.effect(`${cls.prefix}: ${cls.rule}, via ${via}: allowed reaches the backend, denied is 403 and never forwarded`, () =>
          Effect.gen(function* () {
            const backend = yield* theBackend
            const credentials = yield* credentialsFor(via)
            const start = new Map(cls.routes.map((r) => [`${r.method} ${r.path}`, seen(backend, r.method, r.path)]))
            for (const r of cls.routes) {
              for (const role of roles) {
                const label = `${role} (${via}) ${r.method} ${r.path}, needs ${r.needs}`
                const before = seen(backend, r.method, r.path)
                const res = yield* call(r.method, r.path, credentials[role])
                if (allows(role, r.needs)) {
                  assert.strictEqual(res.status, 200, `${label}: ${res.text}`)
                  assert.deepStrictEqual(res.json, { ok: true }, `${label}: the backend's body`)
                  assert.strictEqual(seen(backend, r.method, r.path), before + 1, `${label}: the backend saw it`)
                } else {
                  assertErrorReply(fromFetch(res), 403, "Insufficient permissions")
                  assert.strictEqual(seen(backend, r.method, r.path), before, `${label}: the backend never saw it`)
                }
              }
            }
            // once all answers are in: no denied request reached the backend late either
            for (const r of cls.routes) {
              const allowedRoles = roles.filter((role) => allows(role, r.needs)).length
              assert.strictEqual(seen(backend, r.method, r.path) - start.get(`${r.method} ${r.path}`)!, allowedRoles, `${r.method} ${r.path}`)
            }
          }))
      }
    }

    it.effect("no credentials: 401 Authentication required with WWW-Authenticate: Bearer, on every route, nothing forwarded", () =>
      Effect.gen(function* () {
        const backend = yield* theBackend
        const before = backend.requests.length
        for (const r of allRoutes) {
          const res = yield* call(r.method, r.path)
          assertErrorReply(fromFetch(res), 401, "Authentication required")
          assert.strictEqual(res.headers.get("www-authenticate"), "Bearer", `${r.method} ${r.path}`)
        }
        assert.strictEqual(backend.requests.length, before)
      }))

    it.effect("another Authorization scheme counts as no credentials", () =>
      Effect.gen(function* () {
        const res = yield* call("GET", "/api/v1/account/balance", { authorization: `Basic ${Buffer.from("u:p").toString("base64")}` })
        assertErrorReply(fromFetch(res), 401, "Authentication required")
        assert.strictEqual(res.headers.get("www-authenticate"), "Bearer")
      }))

    it.effect("an unknown API key: 401 Invalid API key on every route, nothing forwarded", () =>
      Effect.gen(function* () {
        const backend = yield* theBackend
        const before = backend.requests.length
        for (const r of allRoutes) {
          const res = yield* call(r.method, r.path, apiKey("not-a-configured-key-000000"))
          assertErrorReply(fromFetch(res), 401, "Invalid API key")
        }
        assert.strictEqual(backend.requests.length, before)
      }))

    it.effect("the public endpoints answer 200 without credentials, and with bad ones", () =>
      Effect.gen(function* () {
        for (const path of publicPaths) {
          assert.strictEqual((yield* call("GET", path)).status, 200, `${path} without credentials`)
          assert.strictEqual((yield* call("GET", path, apiKey("bogus-key-123456"))).status, 200, `${path} with an unknown key`)
          assert.strictEqual((yield* call("GET", path, bearer("not.a.jwt"))).status, 200, `${path} with a bad token`)
        }
      }))

    it.effect("GET /openapi.json is public too (SPEC §3)", () =>
      Effect.gen(function* () {
        const res = yield* call("GET", "/openapi.json")
        assert.strictEqual(res.status, 200, res.text)
      }))

    it.effect("unmatched paths and wrong methods are answered 404/405 before authentication", () =>
      Effect.gen(function* () {
        assertErrorReply(fromFetch(yield* call("GET", "/api/v1/nowhere")), 404, "Not found")
        assertErrorReply(fromFetch(yield* call("PATCH", "/api/v1/orders")), 405, "Method not allowed")
      }))

    it.effect("no spelling of an admin route lets an operator through (SPEC §3 matching)", () =>
      Effect.gen(function* () {
        const backend = yield* theBackend
        const before = backend.requests.length
        const port = yield* gatewayPort
        const spellings: ReadonlyArray<readonly [string, ReadonlyArray<number>]> = [
          ["POST /api/v1/strategies/", [403]], // one trailing slash is the same route
          ["PUT /api/v1/strategies/strat-7/", [403]],
          ["DELETE /api/v1/config/max_position/", [403]],
          ["POST /api/v1/strategies?role=admin", [403]],
          ["POST /api/v1/risk/./emergency-stop", [400]],
          ["POST /api/v1/risk/x/../emergency-stop", [400]],
          ["POST /api/v1/risk/%2e/emergency-stop", [400]],
          ["POST /api/v1/risk//emergency-stop", [400]],
          ["POST /api/v1/risk%2femergency-stop", [400]],
          ["POST /api/v1/risk/emergency%2Dstop", [403, 404]], // decoded: the admin route; or no route
          ["POST /API/v1/risk/emergency-stop", [404]] // case-sensitive
        ]
        for (const [line, statuses] of spellings) {
          const reply = yield* rawExchange(port, rawRequest(`${line} HTTP/1.1`, [`X-API-Key: ${apiKeys.operator}`, "Content-Length: 0"]))
          assert.include(statuses, reply.status, `${line}: ${reply.body}`)
        }
        assert.strictEqual(backend.requests.length, before, "none reached the backend")
      }))

    it.effect("a duplicated X-API-Key or Authorization header is 400 Bad request, never a pick of one", () =>
      Effect.gen(function* () {
        const backend = yield* theBackend
        const before = backend.requests.length
        const port = yield* gatewayPort
        const admin = yield* tokenFor("ada", "admin")
        const duplicates = [
          [`X-API-Key: ${apiKeys.admin}`, `X-API-Key: ${apiKeys.viewer}`],
          [`X-API-Key: ${apiKeys.viewer}`, `x-api-key: ${apiKeys.admin}`],
          [`Authorization: Bearer ${admin}`, `Authorization: Bearer ${admin}`]
        ]
        for (const headers of duplicates) {
          const reply = yield* rawExchange(port, rawRequest("GET /api/v1/orders HTTP/1.1", headers))
          assertErrorReply(fromRaw(reply), 400, "Bad request")
        }
        assert.strictEqual(backend.requests.length, before)
      }))

    it.effect("a CORS preflight needs no credentials and is never forwarded", () =>
      Effect.gen(function* () {
        const backend = yield* theBackend
        const before = backend.requests.length
        for (const path of ["/api/v1/orders", "/api/v1/strategies/strat-7", "/api/v1/risk/emergency-stop"]) {
          const res = yield* call("OPTIONS", path, { origin: app, "access-control-request-method": "POST", "access-control-request-headers": "authorization" })
          assert.strictEqual(res.status, 204, `preflight ${path}`)
          assert.strictEqual(res.headers.get("access-control-allow-origin"), app)
        }
        assert.strictEqual(backend.requests.length, before)
      }))
  })

  layer(authGateway(() => ({ auth: { enabled: false } })), realTime)((it) => {
    it.effect("auth.enabled false: every route is open without credentials, and no X-Auth-User/X-Auth-Role is sent", () =>
      Effect.gen(function* () {
        const backend = yield* theBackend
        for (const r of allRoutes) {
          const before = backend.requests.length
          const res = yield* call(r.method, r.path)
          assert.strictEqual(res.status, 200, `${r.method} ${r.path}: ${res.text}`)
          const got = backend.requests.slice(before)
          assert.strictEqual(got.length, 1, `${r.method} ${r.path} reached the backend`)
          assert.notProperty(got[0]!.headers, "x-auth-user")
          assert.notProperty(got[0]!.headers, "x-auth-role")
        }
      }))

    it.effect("auth.enabled false: no role is checked and credentials are not judged", () =>
      Effect.gen(function* () {
        const cases: ReadonlyArray<Record<string, string>> = [
          apiKey(apiKeys.viewer),
          apiKey("not-a-configured-key-000000"),
          bearer("not.a.jwt"),
          bearer(yield* tokenFor("eve", "viewer"))
        ]
        for (const headers of cases) {
          for (const [method, path] of [["POST", "/api/v1/risk/emergency-stop"], ["DELETE", "/api/v1/config/max_position"]] as const) {
            const res = yield* call(method, path, headers)
            assert.strictEqual(res.status, 200, `${method} ${path} with ${JSON.stringify(headers)}: ${res.text}`)
          }
        }
      }))
  })
})
