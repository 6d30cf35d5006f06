// The gateway for the auth suites: one recording backend behind all seven services, a
// JWKS server on loopback (used when the config names it), and what the tests read back:
// requests the backend saw, the auth counters of /metrics, access log lines.
import { assert } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { CapturedLogs } from "./CapturingSink.js"
import { startJwksServer, type JwksServer } from "./AuthJwks.js"
import { type AsymmetricAlg, authSection, makeSigningKey, type SigningKey } from "./AuthTokens.js"
import { type Backend, backendNamed, type Backends, gatewayWithBackends, okHandler, type RecordedRequest } from "./HttpBackend.js"
import { assertErrorReply, fromFetch } from "./HttpErrors.js"
import { eventually, type Reply, send } from "./HttpClient.js"
import { parsePrometheus, samplesOf } from "./HttpPrometheus.js"
import { merge } from "./TestConfig.js"
import { gatewayUrl } from "./TestGateway.js"

type Doc = Record<string, unknown>

export const serviceNames = [
  "market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"
] as const

export interface AuthFixture {
  readonly jwks: JwksServer
  /** The signing keys the layer generated, by kid; the JWKS serves their public halves. */
  readonly keys: Readonly<Record<string, SigningKey>>
}

export class AuthKeys extends Context.Tag("test/AuthKeys")<AuthKeys, AuthFixture>() {}

/**
 * The gateway with auth enabled (the suite's secret and keys), every service at one
 * backend named "backend", no cache; `configure` gets the JWKS URL and returns the keys
 * to merge over that. `signing` names the key pairs to generate; the JWKS serves them at
 * start unless marked "unserved".
 */
export const authGateway = (
  configure: (jwksUrl: string) => Doc = () => ({}),
  signing: ReadonlyArray<readonly [AsymmetricAlg, string] | readonly [AsymmetricAlg, string, "unserved"]> = []
) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const keys = yield* Effect.forEach(signing, ([alg, kid]) => makeSigningKey(alg, kid))
      const served = keys.filter((_, i) => signing[i]![2] !== "unserved")
      const jwks = yield* startJwksServer(served.map((k) => k.jwk))
      const fixture: AuthFixture = { jwks, keys: Object.fromEntries(keys.map((k) => [k.kid, k])) }
      return gatewayWithBackends({ backend: okHandler }, ({ backend }) =>
        merge(
          {
            services: Object.fromEntries(serviceNames.map((name) => [name, { url: backend.url, max_retries: 0 }])),
            auth: authSection(),
            cache: { enabled: false }
          },
          configure(jwks.url)
        )).pipe(Layer.merge(Layer.succeed(AuthKeys, fixture)))
    })
  )

export const theBackend: Effect.Effect<Backend, never, Backends> = backendNamed("backend")

/** One request to the gateway; a JSON body `{}` for POST/PUT/PATCH. */
export const call = (method: string, path: string, headers: Readonly<Record<string, string>> = {}) =>
  Effect.flatMap(gatewayUrl, (base) => {
    const withBody = method === "POST" || method === "PUT" || method === "PATCH"
    return send(`${base}${path}`, {
      method,
      headers: { ...headers, ...(withBody ? { "content-type": "application/json" } : {}) },
      body: withBody ? "{}" : null
    })
  })

/** How many requests with this method and exact URL (query included) reached the backend. */
export const seen = (backend: Backend, method: string, url: string): number =>
  backend.requests.filter((r) => r.method === method && r.url === url).length

/** The one request the backend saw for `url`. */
export const recorded = (backend: Backend, url: string): RecordedRequest => {
  const mine = backend.requests.filter((r) => r.url === url)
  if (mine.length !== 1) throw new Error(`expected one request for ${url} at the backend, saw ${mine.length}`)
  return mine[0]!
}

let counter = 0
/** A fresh path segment or request id. */
export const unique = (label: string): string => `${label}-${Date.now().toString(36)}-${++counter}`

export interface AuthCounters {
  readonly attempts: (type: string) => number
  readonly failures: (type: string, reason: string) => number
}

const attemptsName = "api_gateway_authentication_attempts_total"
const failuresName = "api_gateway_authentication_failures_total"

/** The auth counters as /metrics shows them now. */
export const authCounters = Effect.gen(function* () {
  const res: Reply = yield* call("GET", "/metrics")
  if (res.status !== 200) return yield* Effect.dieMessage(`/metrics answered ${res.status}`)
  const families = parsePrometheus(res.text)
  const sum = (name: string, labels: Record<string, string>) =>
    samplesOf(families.get(name), name, labels).reduce((total, s) => total + s.value, 0)
  const counters: AuthCounters = {
    attempts: (type) => sum(attemptsName, { type }),
    failures: (type, reason) => sum(failuresName, { type, reason })
  }
  return counters
})

/** The access log lines of one request id, once there is at least one (bounded wait). */
export const accessLinesOf = (requestId: string) =>
  eventually(
    Effect.flatMap(CapturedLogs, (lines) => {
      const mine = lines.filter((l) => l.message === "HTTP request" && l.fields.request_id === requestId)
      return mine.length > 0 ? Effect.succeed(mine) : Effect.fail(`no access log line for ${requestId}`)
    })
  )

/** A viewer route, fresh each time, so the backend's record of it is unambiguous. */
export const freshTicker = (): string => `/api/v1/market-data/ticker/${unique("sym")}`
/** An operator route, fresh each time. */
export const freshOrder = (): string => `/api/v1/orders/${unique("ord")}`

/** Refused with 401 `Invalid or expired token` (SPEC §4), and never forwarded. */
export const assertRefused = (headers: Readonly<Record<string, string>>, label: string) =>
  Effect.gen(function* () {
    const backend = yield* theBackend
    const path = freshTicker()
    const res = yield* call("GET", path, headers)
    assert.strictEqual(res.status, 401, `${label}: ${res.text}`)
    assertErrorReply(fromFetch(res), 401, "Invalid or expired token")
    assert.strictEqual(seen(backend, "GET", path), 0, `${label}: never forwarded`)
  })

/** Forwarded to the backend as `user` with `role` (X-Auth-User / X-Auth-Role). */
export const assertAccepted = (headers: Readonly<Record<string, string>>, user: string, role: string, label: string) =>
  Effect.gen(function* () {
    const backend = yield* theBackend
    const path = freshTicker()
    const res = yield* call("GET", path, headers)
    assert.strictEqual(res.status, 200, `${label}: ${res.text}`)
    const upstream = recorded(backend, path)
    assert.strictEqual(upstream.headers["x-auth-user"], user, `${label}: X-Auth-User`)
    assert.strictEqual(upstream.headers["x-auth-role"], role, `${label}: X-Auth-Role`)
  })
