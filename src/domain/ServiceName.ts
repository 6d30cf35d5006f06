import * as Schema from "effect/Schema"

// The seven backends of the trading system (seed §6); every route names one of them.
export const ServiceName = Schema.Literal(
  "market_data",
  "order_execution",
  "strategy_engine",
  "account_monitor",
  "risk_manager",
  "configuration",
  "dashboard_server"
)
export type ServiceName = typeof ServiceName.Type

export const serviceNames: ReadonlyArray<ServiceName> = ServiceName.literals
