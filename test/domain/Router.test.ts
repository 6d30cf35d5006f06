import { assert, describe, it } from "@effect/vitest"
import { isRefusal, parseTarget } from "../../src/domain/RequestPath.js"
import type { Role } from "../../src/domain/Role.js"
import { type ApiRoute, apiRoutes, type Method } from "../../src/domain/RouteTable.js"
import { makeRouter, type RouteMatch } from "../../src/domain/Router.js"
import type { ServiceName } from "../../src/domain/ServiceName.js"

// SPEC §3 and the seed's section 4, written out by hand: method, template, service, least role.
const expected: ReadonlyArray<readonly [Method, string, ServiceName, Role]> = [
  ["GET", "/api/v1/market-data/symbols", "market_data", "viewer"],
  ["GET", "/api/v1/market-data/orderbook/:symbol", "market_data", "viewer"],
  ["GET", "/api/v1/market-data/trades/:symbol", "market_data", "viewer"],
  ["GET", "/api/v1/market-data/ticker/:symbol", "market_data", "viewer"],
  ["POST", "/api/v1/orders", "order_execution", "operator"],
  ["GET", "/api/v1/orders/:id", "order_execution", "operator"],
  ["GET", "/api/v1/orders", "order_execution", "operator"],
  ["DELETE", "/api/v1/orders/:id", "order_execution", "operator"],
  ["GET", "/api/v1/orders/active", "order_execution", "operator"],
  ["GET", "/api/v1/orders/history", "order_execution", "operator"],
  ["GET", "/api/v1/strategies", "strategy_engine", "operator"],
  ["GET", "/api/v1/strategies/:id", "strategy_engine", "operator"],
  ["POST", "/api/v1/strategies", "strategy_engine", "admin"],
  ["PUT", "/api/v1/strategies/:id", "strategy_engine", "admin"],
  ["DELETE", "/api/v1/strategies/:id", "strategy_engine", "admin"],
  ["POST", "/api/v1/strategies/:id/start", "strategy_engine", "operator"],
  ["POST", "/api/v1/strategies/:id/stop", "strategy_engine", "operator"],
  ["GET", "/api/v1/strategies/:id/status", "strategy_engine", "operator"],
  ["GET", "/api/v1/account/balance", "account_monitor", "viewer"],
  ["GET", "/api/v1/account/positions", "account_monitor", "viewer"],
  ["GET", "/api/v1/account/pnl", "account_monitor", "viewer"],
  ["GET", "/api/v1/account/pnl/daily", "account_monitor", "viewer"],
  ["GET", "/api/v1/account/trades", "account_monitor", "viewer"],
  ["GET", "/api/v1/risk/limits", "risk_manager", "operator"],
  ["PUT", "/api/v1/risk/limits", "risk_manager", "admin"],
  ["GET", "/api/v1/risk/status", "risk_manager", "operator"],
  ["POST", "/api/v1/risk/emergency-stop", "risk_manager", "admin"],
  ["GET", "/api/v1/config", "configuration", "operator"],
  ["GET", "/api/v1/config/:key", "configuration", "operator"],
  ["PUT", "/api/v1/config/:key", "configuration", "admin"],
  ["DELETE", "/api/v1/config/:key", "configuration", "admin"],
  ["GET", "/api/v1/dashboard/status", "dashboard_server", "viewer"],
  ["GET", "/api/v1/dashboard/summary", "dashboard_server", "viewer"]
]

const sample: Record<string, string> = { ":symbol": "BTC-USD", ":id": "42", ":key": "max_leverage" }
const concrete = (template: string): string => template.split("/").map((s) => sample[s] ?? s).join("/")

const router = makeRouter(apiRoutes)

const match = (method: string, target: string): RouteMatch<ApiRoute> => {
  const p = parseTarget(target)
  if (isRefusal(p)) return assert.fail(`${target} was refused: ${p}`)
  return router.match(method, p.segments)
}

const found = (method: string, target: string): ApiRoute => {
  const m = match(method, target)
  if (m._tag !== "Found") return assert.fail(`${method} ${target}: expected a route, got ${JSON.stringify(m)}`)
  return m.route
}

const allowOf = (method: string, target: string): string => {
  const m = match(method, target)
  if (m._tag !== "MethodNotAllowed") return assert.fail(`${method} ${target}: expected 405, got ${JSON.stringify(m)}`)
  return m.allow
}

describe("Router", () => {
  describe("the route table", () => {
    it("has exactly the 33 routes of SPEC §3", () => {
      assert.strictEqual(apiRoutes.length, 33)
      assert.strictEqual(expected.length, 33)
      const actual = apiRoutes.map((r) => `${r.method} ${r.template} ${r.service} ${r.role}`).sort()
      assert.deepStrictEqual(actual, expected.map(([m, t, s, r]) => `${m} ${t} ${s} ${r}`).sort())
    })

    it("writes every template without a trailing slash", () => {
      for (const r of apiRoutes) assert.isFalse(r.template.endsWith("/"), r.template)
    })

    it("routes every SPEC route to its service with its least role", () => {
      for (const [method, template, service, role] of expected) {
        const route = found(method, concrete(template))
        assert.strictEqual(route.template, template, `${method} ${concrete(template)}`)
        assert.strictEqual(route.method, method)
        assert.strictEqual(route.service, service, `${method} ${template}`)
        assert.strictEqual(route.role, role, `${method} ${template}`)
      }
    })

    it("routes every SPEC route with one trailing slash too", () => {
      for (const [method, template] of expected) {
        assert.strictEqual(found(method, `${concrete(template)}/`).template, template)
      }
    })

    it("answers HEAD wherever GET is served, with the GET route", () => {
      for (const [method, template] of expected) {
        if (method !== "GET") continue
        const route = found("HEAD", concrete(template))
        assert.strictEqual(route.template, template)
        assert.strictEqual(route.method, "GET")
      }
    })
  })

  describe("matching", () => {
    it("prefers static segments to parameters", () => {
      assert.strictEqual(found("GET", "/api/v1/orders/active").template, "/api/v1/orders/active")
      assert.strictEqual(found("GET", "/api/v1/orders/history").template, "/api/v1/orders/history")
      assert.strictEqual(found("GET", "/api/v1/orders/123").template, "/api/v1/orders/:id")
      assert.strictEqual(found("GET", "/api/v1/account/pnl/daily").template, "/api/v1/account/pnl/daily")
    })

    it("falls back to the parameter when the static branch has no route for the rest", () => {
      assert.strictEqual(found("GET", "/api/v1/strategies/active/status").template, "/api/v1/strategies/:id/status")
    })

    it("matches nested parameter routes", () => {
      const start = found("POST", "/api/v1/strategies/7/start")
      assert.strictEqual(start.template, "/api/v1/strategies/:id/start")
      assert.strictEqual(start.role, "operator")
      assert.strictEqual(found("POST", "/api/v1/strategies/7/stop").template, "/api/v1/strategies/:id/stop")
      assert.strictEqual(found("GET", "/api/v1/strategies/7/status").template, "/api/v1/strategies/:id/status")
    })

    it("keeps the admin-only method apart from the operator one on the same path", () => {
      assert.strictEqual(found("GET", "/api/v1/strategies/7").role, "operator")
      assert.strictEqual(found("PUT", "/api/v1/strategies/7").role, "admin")
      assert.strictEqual(found("DELETE", "/api/v1/strategies/7").role, "admin")
      assert.strictEqual(found("GET", "/api/v1/strategies").role, "operator")
      assert.strictEqual(found("POST", "/api/v1/strategies").role, "admin")
      assert.strictEqual(found("GET", "/api/v1/risk/limits").role, "operator")
      assert.strictEqual(found("PUT", "/api/v1/risk/limits").role, "admin")
    })

    it("matches decoded segments", () => {
      assert.strictEqual(found("GET", "/api/v1/%6Frders/active").template, "/api/v1/orders/active")
      assert.strictEqual(found("PUT", "/api/v1/config/a%20b").template, "/api/v1/config/:key")
    })

    it("is case-sensitive", () => {
      assert.strictEqual(match("GET", "/API/v1/orders")._tag, "NotFound")
      assert.strictEqual(match("GET", "/api/v1/Orders/active")._tag, "NotFound")
    })

    it("is case-sensitive about methods", () => {
      assert.strictEqual(match("get", "/api/v1/orders")._tag, "MethodNotAllowed")
    })
  })

  describe("405", () => {
    it("lists the route's methods in the order GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", () => {
      assert.strictEqual(allowOf("PATCH", "/api/v1/orders"), "GET, HEAD, POST")
      assert.strictEqual(allowOf("POST", "/api/v1/orders/123"), "GET, HEAD, DELETE")
      assert.strictEqual(allowOf("PATCH", "/api/v1/strategies/7"), "GET, HEAD, PUT, DELETE")
      assert.strictEqual(allowOf("PUT", "/api/v1/strategies"), "GET, HEAD, POST")
      assert.strictEqual(allowOf("OPTIONS", "/api/v1/config/x"), "GET, HEAD, PUT, DELETE")
      assert.strictEqual(allowOf("DELETE", "/api/v1/risk/limits"), "GET, HEAD, PUT")
    })

    it("answers GET and HEAD on a POST-only route with 405 allowing POST", () => {
      assert.strictEqual(allowOf("GET", "/api/v1/strategies/7/start"), "POST")
      assert.strictEqual(allowOf("HEAD", "/api/v1/risk/emergency-stop"), "POST")
    })

    it("treats a static path as its own route, not the parameter route beside it", () => {
      assert.strictEqual(allowOf("DELETE", "/api/v1/orders/active"), "GET, HEAD")
    })

    it("applies to a path with a trailing slash", () => {
      assert.strictEqual(allowOf("DELETE", "/api/v1/orders/"), "GET, HEAD, POST")
    })
  })

  describe("404", () => {
    it("for paths no route has", () => {
      for (const target of [
        "/", "/api", "/api/v1", "/api/v1/market-data", "/api/v1/orders/1/2", "/api/v1/ordersx", "/api/v2/orders",
        "/api/v1/market-data/orderbook", "/api/v1/account", "/api/v1/strategies/7/start/now", "/health", "/ws"
      ]) {
        assert.strictEqual(match("GET", target)._tag, "NotFound", target)
        assert.strictEqual(match("POST", target)._tag, "NotFound", target)
      }
    })
  })

  describe("makeRouter", () => {
    it("serves an explicit HEAD route instead of the GET one", () => {
      const r = makeRouter([
        { method: "GET" as const, template: "/x" },
        { method: "HEAD" as const, template: "/x", tag: "head" }
      ])
      const m = r.match("HEAD", ["x"])
      assert.strictEqual(m._tag === "Found" ? m.route.method : "", "HEAD")
    })
  })
})
