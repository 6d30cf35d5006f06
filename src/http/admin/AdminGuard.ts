// Every admin route runs behind this guard: credentials as on the main listener, the admin
// role always, whatever auth.enabled says (SPEC §3); failures rendered as SPEC §4 bodies.
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { IncomingMessage } from "node:http"
import { BadRequest, Forbidden } from "../../domain/Errors.js"
import { satisfies } from "../../domain/Role.js"
import { newRequestId } from "../../domain/RequestId.js"
import type { Auth, Credentials, Identity } from "../../services/Auth.js"
import type { GatewayConfig } from "../../services/GatewayConfig.js"
import { credentialsOf } from "../Credentials.js"
import { pickRequestId } from "../RequestContext.js"
import { type AdminError, adminErrorBody, toAdminReply } from "./AdminErrors.js"

export interface AdminCall {
  readonly caller: Identity
  readonly requestId: string
  readonly request: HttpServerRequest.HttpServerRequest
}

export type AdminHandler<R> = (call: AdminCall) => Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>

const securityHeaders = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
}

const jwtShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

const countOf = (raw: ReadonlyArray<string>, name: string) => {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) n++
  return n
}

/**
 * A browser cannot add headers to a page it navigates to, so GETs also take Basic auth
 * with the API key (or a JWT) as the password: the dashboard then loads with the
 * browser's own prompt. Never for POST: a cross-site form would carry it (CSRF).
 */
const credentialsFrom = (req: IncomingMessage): Credentials | BadRequest => {
  if (countOf(req.rawHeaders, "authorization") > 1 || countOf(req.rawHeaders, "x-api-key") > 1) {
    return new BadRequest({ reason: "duplicated Authorization or X-API-Key header" })
  }
  const given = credentialsOf(req.headers)
  const basic = /^basic[ \t]+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? "")
  if (given.bearer !== undefined || given.apiKey !== undefined || basic === null || req.method !== "GET") return given
  const decoded = Buffer.from(basic[1]!, "base64").toString("utf8")
  const secret = decoded.slice(decoded.indexOf(":") + 1)
  if (secret === "") return given
  return jwtShape.test(secret) ? { bearer: secret, apiKey: undefined } : { bearer: undefined, apiKey: secret }
}

export const makeGuard = (auth: Auth["Type"], config: GatewayConfig["Type"]) => {
  const authorize = (req: IncomingMessage): Effect.Effect<Identity, AdminError> => {
    const credentials = credentialsFrom(req)
    if (credentials instanceof BadRequest) return Effect.fail(credentials)
    return auth.authenticate(credentials).pipe(
      Effect.filterOrFail((identity) => satisfies(identity.role, "admin"), () => new Forbidden({ needed: "admin" }))
    )
  }

  /** `page`: a 401 challenges with Basic, so a browser asks its user for the key. */
  return <R>(handler: AdminHandler<R>, options: { readonly page?: boolean } = {}) =>
    (request: HttpServerRequest.HttpServerRequest): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> => {
      const req = NodeHttpServerRequest.toIncomingMessage(request)
      const requestId = pickRequestId(req.headers["x-request-id"], newRequestId)
      const headers = { ...securityHeaders, "x-request-id": requestId }
      const failed = (error: AdminError) =>
        Effect.map(config.current, ({ config: c }) => {
          const reply = toAdminReply(error)
          const challenge = options.page === true && reply.status === 401 ? { "www-authenticate": "Basic realm=\"api-gateway admin\", charset=\"UTF-8\"" } : {}
          return HttpServerResponse.text(adminErrorBody(reply, requestId, c.features.enable_error_details), {
            status: reply.status,
            contentType: "application/json; charset=utf-8",
            headers: { ...headers, ...reply.headers, ...challenge }
          })
        })
      return authorize(req).pipe(
        Effect.flatMap((caller) => handler({ caller, requestId, request })),
        Effect.map(HttpServerResponse.setHeaders(headers)),
        Effect.catchAll(failed),
        // the boundary: a bug answers 500 and is logged, like the main listener's recovery
        Effect.catchAllCause((cause) =>
          Effect.logError("admin request failed unexpectedly").pipe(
            Effect.annotateLogs({ request_id: requestId, error: Cause.pretty(cause) }),
            Effect.as(HttpServerResponse.text(JSON.stringify({ error: "Internal server error", request_id: requestId }), {
              status: 500,
              contentType: "application/json; charset=utf-8",
              headers
            }))
          )
        )
      )
    }
}
