import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HttpListener } from "../../src/http/Server.js"
import { AppLive } from "../../src/layers/Main.js"
import { CapturingSink } from "./CapturingSink.js"
import { makeConfigLayer } from "./TestConfig.js"

/** The whole gateway, as production composes it, on a free loopback port. */
export const makeTestGateway = (over: Record<string, unknown> = {}) =>
  AppLive.pipe(
    Layer.provideMerge(CapturingSink),
    Layer.provideMerge(makeConfigLayer(over)),
    Layer.provide(NodeFileSystem.layer)
  )

export const gatewayUrl = Effect.map(HttpListener, ({ port }) => `http://127.0.0.1:${port}`)
