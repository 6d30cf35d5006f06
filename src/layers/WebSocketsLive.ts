import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Overloaded } from "../domain/Errors.js"
import { WebSockets } from "../services/WebSockets.js"

export const WebSocketsLive = Layer.succeed(
  WebSockets,
  WebSockets.of({
    proxy: (ctx, fail) => fail(ctx, new Overloaded({ what: "WebSocket proxying is not available yet", retryAfterMs: 60_000 })),
    closeAll: Effect.void,
    open: () => 0
  })
)
