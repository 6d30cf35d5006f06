// SPEC §1 SIGHUP: keys that need a restart keep their running values and are reported.
import type { GatewayConfig } from "./GatewayConfig.js"
import { serviceNames } from "./ServiceName.js"

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/** The restart-only keys that differ between the running config and the new file. */
export const restartOnlyChanges = (running: GatewayConfig, next: GatewayConfig): Array<string> => {
  const changed: Array<string> = []
  const check = (path: string, a: unknown, b: unknown) => {
    if (!same(a, b)) changed.push(path)
  }
  check("server", running.server, next.server)
  check("tls", running.tls, next.tls)
  for (const name of serviceNames) check(`services.${name}.url`, running.services[name].url, next.services[name].url)
  check("rate_limit.store", running.rate_limit.store, next.rate_limit.store)
  check("rate_limit.redis_url", running.rate_limit.redis_url, next.rate_limit.redis_url)
  check("cache.redis_url", running.cache.redis_url, next.cache.redis_url)
  check("admin", running.admin, next.admin)
  check("tracing", running.tracing, next.tracing)
  check("features.enable_tracing", running.features.enable_tracing, next.features.enable_tracing)
  const { level: _a, ...runningLogging } = running.logging
  const { level: _b, ...nextLogging } = next.logging
  check("logging (all but level)", runningLogging, nextLogging)
  check("websocket.path", running.websocket.path, next.websocket.path)
  return changed
}

/** The new config with every restart-only key as it runs now. */
export const withRunningRestartOnly = (running: GatewayConfig, next: GatewayConfig): GatewayConfig => ({
  ...next,
  server: running.server,
  tls: running.tls,
  services: Object.fromEntries(serviceNames.map((n) => [n, { ...next.services[n], url: running.services[n].url }])) as GatewayConfig["services"],
  rate_limit: { ...next.rate_limit, store: running.rate_limit.store, redis_url: running.rate_limit.redis_url } as GatewayConfig["rate_limit"],
  cache: { ...next.cache, redis_url: running.cache.redis_url } as GatewayConfig["cache"],
  admin: running.admin,
  tracing: running.tracing,
  features: { ...next.features, enable_tracing: running.features.enable_tracing },
  logging: { ...running.logging, level: next.logging.level },
  websocket: { ...next.websocket, path: running.websocket.path }
})
