import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { GatewayError } from "../domain/Errors.js"
import type { RequestContext } from "../http/RequestContext.js"

/** SPEC §4 WebSocket: upgrades on websocket.path, piped both ways to the service. */
export class WebSockets extends Context.Tag("gateway/WebSockets")<
  WebSockets,
  {
    /**
     * Called once the upgrade passed the checks (rate limits, authentication, role):
     * connect to the service, accept the client, pipe frames. `fail` answers an error on
     * the client's socket while it is still plain HTTP (e.g. 503 when max_connections is reached).
     */
    readonly proxy: (ctx: RequestContext, fail: (ctx: RequestContext, error: GatewayError) => void) => void
    /** Shutdown: every open socket closed with 1001 (going away). */
    readonly closeAll: Effect.Effect<void>
    readonly open: () => number
  }
>() {}
