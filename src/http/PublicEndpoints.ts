// SPEC §5 public endpoints. Liveness, readiness and version answer synchronously; health
// (service probes) and metrics (the registry) run as fibers on the app's runtime.
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { VersionInfo } from "../services/BuildInfo.js"
import type { Health } from "../services/Health.js"
import type { GatewayMetrics } from "../services/Metrics.js"
import { openApiDocument } from "./OpenApi.js"
import type { PublicEndpoint } from "./Plan.js"
import type { RequestContext } from "./RequestContext.js"
import { sendBody, sendJson } from "./Respond.js"

export interface PublicDeps {
  readonly health: Health["Type"]
  readonly metrics: GatewayMetrics
  readonly version: VersionInfo
  readonly runFork: <A>(effect: Effect.Effect<A>) => Fiber.RuntimeFiber<A, never>
  readonly onDefect: (ctx: RequestContext, defect: unknown) => void
}

export const makePublicEndpoints = (deps: PublicDeps) => {
  const version = JSON.stringify(deps.version)

  const later = <A>(ctx: RequestContext, effect: Effect.Effect<A>, reply: (a: A) => void) =>
    deps.runFork(effect).addObserver((exit) => {
      try {
        if (exit._tag === "Success") reply(exit.value)
        else deps.onDefect(ctx, exit.cause)
      } catch (defect) {
        deps.onDefect(ctx, defect) // outside the handler's try: a throw here would hang the client
      }
    })

  return (ctx: RequestContext, endpoint: PublicEndpoint): void => {
    switch (endpoint.name) {
      case "liveness":
        return sendJson(ctx, 200, { status: "alive" })
      case "version":
        return sendBody(ctx, 200, "application/json; charset=utf-8", version)
      case "readiness":
        return later(ctx, deps.health.readiness, (r) =>
          r.ready ? sendJson(ctx, 200, { status: "ready" }) : sendJson(ctx, 503, { status: "not ready", reasons: r.reasons }))
      case "health":
        return later(ctx, deps.health.report, (report) => sendJson(ctx, 200, report))
      case "openapi":
        return sendJson(ctx, 200, openApiDocument(ctx.plan.config, deps.version.version))
      case "metrics":
        return later(ctx, deps.metrics.render, ({ body, contentType }) => sendBody(ctx, 200, contentType, body))
    }
  }
}
