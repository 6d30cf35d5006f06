// The admin API (issue #11): read-only JSON views, three audited actions, the dashboard.
// Every route, the unknown ones included, answers only to the admin role.
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { BadRequest, MethodNotAllowed, NotFound, Overloaded } from "../../domain/Errors.js"
import { ServiceName } from "../../domain/ServiceName.js"
import { reloadAndReport } from "../../layers/ConfigReload.js"
import { AdminStats } from "../../services/AdminStats.js"
import { Auth } from "../../services/Auth.js"
import { Breaker } from "../../services/Breaker.js"
import { Cache } from "../../services/Cache.js"
import { GatewayConfig } from "../../services/GatewayConfig.js"
import { Metrics } from "../../services/Metrics.js"
import { ReloadRefused, UnknownTarget } from "./AdminErrors.js"
import { type AdminCall, makeGuard } from "./AdminGuard.js"
import { dashboardCsp, dashboardHtml } from "./Dashboard.js"

const matcher = (template: string) => new RegExp(`^${template.replace(/:[a-z]+/g, "[^/]+")}$`)

const PurgeRequest = Schema.Struct({ prefix: Schema.String })

const json = (value: unknown, status = 200) => HttpServerResponse.unsafeJson(value, { status })

export const AdminRoutes = HttpLayerRouter.use((router) =>
  Effect.gen(function* () {
    const stats = yield* AdminStats
    const breaker = yield* Breaker
    const cache = yield* Cache
    const config = yield* GatewayConfig
    const metrics = yield* Metrics
    const guard = makeGuard(yield* Auth, config)

    /** The audit line of an action: who did what to what (issue #11). */
    const audit = (call: AdminCall, action: string, target: string, fields: Record<string, unknown> = {}) =>
      Effect.logInfo("admin action").pipe(
        Effect.annotateLogs({ action, caller: call.caller.caller, user: call.caller.user, target, request_id: call.requestId, ...fields })
      )

    const view = (effect: Effect.Effect<unknown>) => guard(() => Effect.map(effect, (v) => json(v)))

    const resetBreaker = Effect.fn("Admin.resetBreaker")(function* (call: AdminCall) {
      const { name } = yield* HttpLayerRouter.params
      if (!Schema.is(ServiceName)(name)) return yield* new UnknownTarget({ what: `no service named ${String(name)}` })
      const before = (yield* breaker.view).find((v) => v.service === name)!.state
      yield* breaker.reset(name)
      yield* audit(call, "reset-breaker", name, { previous_state: before })
      return json({ service: name, previous_state: before, state: "closed" })
    })

    const purge = Effect.fn("Admin.purgeCache")(function* (call: AdminCall) {
      const { prefix } = yield* HttpServerRequest.schemaBodyJson(PurgeRequest).pipe(
        Effect.mapError(() => new BadRequest({ reason: "expected a JSON body {\"prefix\": \"<cache rule prefix>\"}" }))
      )
      const { config: c } = yield* config.current
      if (c.cache.rules[prefix] === undefined) return yield* new UnknownTarget({ what: `no cache rule for ${prefix}` })
      const purged = yield* cache.purge(prefix).pipe(
        Effect.mapError((bypass) => new Overloaded({ what: `cache store unavailable (${bypass.reason})`, retryAfterMs: 1_000 }))
      )
      yield* audit(call, "purge-cache", prefix, { purged })
      return json({ prefix, purged })
    })

    // what SIGHUP does (SPEC §1), answered with the outcome
    const reload = Effect.fn("Admin.reload")(function* (call: AdminCall) {
      const outcome = yield* reloadAndReport("admin API").pipe(
        Effect.provideService(GatewayConfig, config),
        Effect.provideService(Metrics, metrics)
      )
      const { path } = yield* config.current
      yield* audit(call, "reload", path, { result: outcome.result })
      if (outcome.result === "failure") return yield* new ReloadRefused({ problems: outcome.problems })
      return json({
        result: "success",
        file_hash: outcome.snapshot.fileHash,
        loaded_at: outcome.snapshot.loadedAt.toISOString(),
        restart_needed: outcome.restartNeeded
      })
    })

    const page = guard(() =>
      Effect.succeed(HttpServerResponse.html(dashboardHtml).pipe(HttpServerResponse.setHeader("content-security-policy", dashboardCsp))),
      { page: true })

    const routes = [
      HttpLayerRouter.route("GET", "/admin/", page),
      HttpLayerRouter.route("GET", "/admin/status", view(stats.status)),
      HttpLayerRouter.route("GET", "/admin/routes", view(stats.routes)),
      HttpLayerRouter.route("GET", "/admin/services", view(stats.services)),
      HttpLayerRouter.route("GET", "/admin/ratelimits", view(stats.rateLimits)),
      HttpLayerRouter.route("GET", "/admin/cache", view(stats.cache)),
      HttpLayerRouter.route("GET", "/admin/config", view(stats.config)),
      HttpLayerRouter.route("POST", "/admin/services/:name/reset", guard(resetBreaker)),
      HttpLayerRouter.route("POST", "/admin/cache/purge", guard(purge)),
      HttpLayerRouter.route("POST", "/admin/reload", guard(reload))
    ] as const
    const known = routes.map((r) => ({ method: r.method, pattern: matcher(r.path) }))
    const fallback = guard(({ request }) => {
      const path = request.url.split("?")[0]!
      const allowed = known.filter((r) => r.pattern.test(path)).map((r) => r.method)
      return Effect.fail(allowed.length === 0 ? new NotFound() : new MethodNotAllowed({ allow: allowed.join(", ") }))
    })
    // HEAD is left out: the router answers it with the GET route
    const unknown = (["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const).map((m) => HttpLayerRouter.route(m, "*", fallback))
    yield* router.addAll([...routes, ...unknown])
  })
)
