// The rate-limit integration suites: a real gateway whose seven services all point at one
// real node:http backend answering 200, requests from chosen client addresses, and the
// rate-limit metrics read from /metrics.
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { type Backend, gatewayWithBackends, okHandler } from "./HttpBackend.js"
import { type Reply, send } from "./HttpClient.js"
import { parsePrometheus, samplesOf } from "./HttpPrometheus.js"
import { merge } from "./TestConfig.js"
import { gatewayUrl } from "./TestGateway.js"

type Doc = Record<string, unknown>

export const serviceNames = [
  "market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"
] as const

/** Every service at `backend`, without retries. */
export const servicesAt = (backend: Backend): Doc =>
  Object.fromEntries(serviceNames.map((name) => [name, { url: backend.url, max_retries: 0 }]))

/**
 * A gateway with rate limits on (`rateLimit` merged over generous defaults; /metrics and
 * /health/liveness exempt) and `over` merged over the whole document; its backend is "backend".
 */
export const rateLimitedGateway = (rateLimit: Doc, over: Doc = {}) =>
  gatewayWithBackends({ backend: okHandler }, ({ backend }) =>
    merge(
      {
        services: servicesAt(backend),
        rate_limit: merge({
          enabled: true,
          global: { requests_per_second: 1_000, burst: 100_000 },
          per_ip: { requests_per_minute: 60_000, burst: 100_000 },
          exempt_paths: ["/health/liveness", "/metrics"]
        }, rateLimit)
      },
      over
    ))

/** A GET of `path` on the test's gateway, optionally with an X-Forwarded-For. */
export const hit = (path: string, forwardedFor?: string, init: RequestInit = {}) =>
  Effect.flatMap(gatewayUrl, (base) =>
    send(`${base}${path}`, forwardedFor === undefined ? init : { ...init, headers: { "x-forwarded-for": forwardedFor } }))

/** The statuses of `n` sequential GETs of `path`. */
export const statusesOf = (n: number, path: string, forwardedFor?: string) =>
  Effect.forEach(Array.from({ length: n }), () => Effect.map(hit(path, forwardedFor), (r) => r.status))

/** The rate-limit headers of a reply, by their lower-case names (null when absent). */
export const rateLimitHeaders = (reply: Reply) => ({
  limit: reply.headers.get("x-ratelimit-limit"),
  burst: reply.headers.get("x-ratelimit-burst"),
  remaining: reply.headers.get("x-ratelimit-remaining"),
  policy: reply.headers.get("ratelimit-policy"),
  state: reply.headers.get("ratelimit")
})

/** The sum of the samples of `name` whose labels include `labels`, scraped from /metrics at `base`. */
export const metricAt = (base: string, name: string, labels: Readonly<Record<string, string>> = {}) =>
  Effect.map(send(`${base}/metrics`), (res) => {
    assert.strictEqual(res.status, 200, "/metrics must be exempt from the limits under test")
    const families = parsePrometheus(res.text)
    const family = families.get(name) ?? families.get(name.replace(/_total$/, ""))
    return samplesOf(family, name, labels).reduce((sum, s) => sum + s.value, 0)
  })

/** `metricAt` on the test's gateway. */
export const metric = (name: string, labels: Readonly<Record<string, string>> = {}) =>
  Effect.flatMap(gatewayUrl, (base) => metricAt(base, name, labels))

/** How many of `statuses` are `status`. */
export const countOf = (statuses: ReadonlyArray<number>, status: number) => statuses.filter((s) => s === status).length
