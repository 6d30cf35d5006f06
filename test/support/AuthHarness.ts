// The Auth service as production builds it (AuthLive over a literal config and a fresh
// metrics registry), for unit tests. Provide the layer inside the test (Effect.provide),
// so AuthLive reads the test's Clock (TestClock under it.effect) and each test starts fresh.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AuthLive } from "../../src/layers/AuthLive.js"
import { MetricsLive } from "../../src/layers/MetricsLive.js"
import type { Credentials } from "../../src/services/Auth.js"
import { Metrics } from "../../src/services/Metrics.js"
import { authSection } from "./AuthTokens.js"
import { parsePrometheus, samplesOf } from "./HttpPrometheus.js"
import { makeConfigLayer } from "./TestConfig.js"

/** Auth and Metrics, auth enabled with the suite's secret and keys plus `auth` keys. */
export const authLayer = (auth: Record<string, unknown> = {}) =>
  AuthLive.pipe(Layer.provideMerge(Layer.merge(makeConfigLayer({ auth: authSection(auth) }), MetricsLive)))

export const withBearer = (token: string): Credentials => ({ bearer: token, apiKey: undefined })
export const withApiKey = (key: string): Credentials => ({ bearer: undefined, apiKey: key })

/** api_gateway_authentication_failures_total{type,reason} as the registry renders it now. */
export const failureCount = (type: string, reason: string) =>
  Effect.gen(function* () {
    const { body } = yield* (yield* Metrics).render
    const name = "api_gateway_authentication_failures_total"
    return samplesOf(parsePrometheus(body).get(name), name, { type, reason }).reduce((n, s) => n + s.value, 0)
  })
