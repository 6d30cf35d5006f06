// The SPEC §4 checks, in order, as one typed Effect. It is synchronous when the stores
// are (memory buckets, breaker state, hashed keys), so the handler runs it with
// Runtime.runSyncExit; the upstream call happens after it, outside any fiber.
import * as Effect from "effect/Effect"
import { type GatewayError, MethodNotAllowed, NotFound, UpgradeRequired } from "../domain/Errors.js"
import type { ApiEndpoint, PublicEndpoint } from "./Plan.js"
import type { RequestContext } from "./RequestContext.js"
import { validate } from "./Validate.js"

export type Decision =
  | { readonly _tag: "Public"; readonly endpoint: PublicEndpoint }
  | { readonly _tag: "Forward"; readonly endpoint: ApiEndpoint }

export const checks: (ctx: RequestContext) => Effect.Effect<Decision, GatewayError> = Effect.fnUntraced(
  function* (ctx: RequestContext) {
    const target = yield* validate(ctx.req, ctx.plan.config.server.max_body_bytes)
    ctx.target = target
    const match = ctx.plan.router.match(ctx.req.method ?? "", target.segments)
    if (match._tag === "NotFound") return yield* new NotFound()
    if (match._tag === "MethodNotAllowed") return yield* new MethodNotAllowed({ allow: match.allow })
    const endpoint = match.route
    ctx.endpoint = endpoint
    if (endpoint.kind === "public") return { _tag: "Public", endpoint } as const
    if (endpoint.kind === "websocket") return yield* new UpgradeRequired()
    return { _tag: "Forward", endpoint } as const
  }
)
