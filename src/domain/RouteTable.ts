// SPEC §3: the seed's section 4 routes, each with its service and the least role it needs.
// Templates are written without a trailing slash; that form names the route everywhere.
import type { Role } from "./Role.js"
import type { ServiceName } from "./ServiceName.js"

export type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"

export interface ApiRoute {
  readonly method: Method
  readonly template: string
  readonly service: ServiceName
  readonly role: Role
  readonly summary: string
}

const api = (service: ServiceName, prefix: string, role: Role) =>
  (method: Method, path: string, summary: string, needs: Role = role): ApiRoute => ({
    method,
    template: path === "/" ? prefix : `${prefix}${path}`,
    service,
    role: needs,
    summary
  })

const market = api("market_data", "/api/v1/market-data", "viewer")
const orders = api("order_execution", "/api/v1/orders", "operator")
const strategies = api("strategy_engine", "/api/v1/strategies", "operator")
const account = api("account_monitor", "/api/v1/account", "viewer")
const risk = api("risk_manager", "/api/v1/risk", "operator")
const config = api("configuration", "/api/v1/config", "operator")
const dashboard = api("dashboard_server", "/api/v1/dashboard", "viewer")

export const apiRoutes: ReadonlyArray<ApiRoute> = [
  market("GET", "/symbols", "List all trading symbols"),
  market("GET", "/orderbook/:symbol", "Order book for a symbol"),
  market("GET", "/trades/:symbol", "Recent trades for a symbol"),
  market("GET", "/ticker/:symbol", "Ticker for a symbol"),

  orders("POST", "/", "Place a new order"),
  orders("GET", "/:id", "An order by id"),
  orders("GET", "/", "List all orders"),
  orders("DELETE", "/:id", "Cancel an order"),
  orders("GET", "/active", "Active orders"),
  orders("GET", "/history", "Order history"),

  strategies("GET", "/", "List strategies"),
  strategies("GET", "/:id", "A strategy's details"),
  strategies("POST", "/", "Create a strategy", "admin"),
  strategies("PUT", "/:id", "Update a strategy", "admin"),
  strategies("DELETE", "/:id", "Delete a strategy", "admin"),
  strategies("POST", "/:id/start", "Start a strategy"),
  strategies("POST", "/:id/stop", "Stop a strategy"),
  strategies("GET", "/:id/status", "A strategy's status"),

  account("GET", "/balance", "Account balance"),
  account("GET", "/positions", "Open positions"),
  account("GET", "/pnl", "Profit and loss"),
  account("GET", "/pnl/daily", "Daily profit and loss"),
  account("GET", "/trades", "Trade history"),

  risk("GET", "/limits", "Risk limits"),
  risk("PUT", "/limits", "Update risk limits", "admin"),
  risk("GET", "/status", "Risk status"),
  risk("POST", "/emergency-stop", "Trigger an emergency stop", "admin"),

  config("GET", "/", "All configuration"),
  config("GET", "/:key", "A configuration value"),
  config("PUT", "/:key", "Update a configuration value", "admin"),
  config("DELETE", "/:key", "Delete a configuration value", "admin"),

  dashboard("GET", "/status", "Dashboard status"),
  dashboard("GET", "/summary", "Dashboard summary")
]
