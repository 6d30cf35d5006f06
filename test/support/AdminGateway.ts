// The admin suites' harness: an in-process gateway with the operators' listener on a free
// port (admin.port 0), the auth suite's keys and secret, and calls to either listener.
import * as Effect from "effect/Effect"
import { AdminListener } from "../../src/services/AdminListener.js"
import { apiKey, apiKeys, authSection, bearer, tokenFor } from "./AuthTokens.js"
import { send } from "./HttpClient.js"
import { merge } from "./TestConfig.js"
import { makeTestGateway } from "./TestGateway.js"

type Doc = Record<string, unknown>

/** admin on port 0, auth enabled with the auth suite's keys (viewer, operator, admin). */
export const adminDoc = (over: Doc = {}): Doc => merge({ admin: { enabled: true, port: 0 }, auth: authSection() }, over)

export const adminGateway = (over: Doc = {}) => makeTestGateway(adminDoc(over))

export const adminUrl = Effect.flatMap(AdminListener, ({ address }) =>
  address === undefined ? Effect.dieMessage("the admin listener is not running (admin.enabled false)") : Effect.succeed(`http://127.0.0.1:${address.port}`))

export const asAdmin = apiKey(apiKeys.admin)
export const asOperator = apiKey(apiKeys.operator)
export const asViewer = apiKey(apiKeys.viewer)
export const adminJwt = Effect.map(tokenFor("root", "admin"), bearer)

/** `Authorization: Basic`, as a browser sends it after its prompt. */
export const basic = (password: string, user = "ops"): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`
})

/** One call to the admin listener; `body` is sent as JSON. */
export const admin = (path: string, options: { readonly method?: string; readonly headers?: Record<string, string>; readonly body?: unknown } = {}) =>
  Effect.flatMap(adminUrl, (base) =>
    send(`${base}${path}`, {
      method: options.method ?? "GET",
      headers: { ...(options.body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
      ...(options.body === undefined ? {} : { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) })
    }))

/** Every read-only JSON route of the admin API. */
export const adminViews = ["/admin/status", "/admin/routes", "/admin/services", "/admin/ratelimits", "/admin/cache", "/admin/config"] as const
