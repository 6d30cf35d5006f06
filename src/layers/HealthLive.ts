import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Agent, request } from "undici"
import { serviceNames } from "../domain/ServiceName.js"
import { Breaker } from "../services/Breaker.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Health, type HealthReport, type ServiceHealth } from "../services/Health.js"
import { Lifecycle } from "../services/Lifecycle.js"

const describe = (e: unknown): string => {
  const err = e as { code?: string; message?: string; cause?: { code?: string } }
  const code = err.code ?? err.cause?.code
  if (code === "ECONNREFUSED") return "connection refused"
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found"
  return err.message ?? String(e)
}

export const HealthLive = Layer.scoped(
  Health,
  Effect.gen(function* () {
    const config = yield* GatewayConfig
    const lifecycle = yield* Lifecycle
    const breaker = yield* Breaker
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() => new Agent({ connections: 2, keepAliveTimeout: 5_000 })),
      (a) => Effect.promise(() => a.close()).pipe(Effect.timeout("1 second"), Effect.ignore)
    )

    const probe = (url: string, timeoutMs: number): Effect.Effect<ServiceHealth> =>
      Effect.clockWith((clock) => {
        const start = clock.unsafeCurrentTimeMillis()
        return Effect.tryPromise({
          try: async (signal) => {
            const res = await request(url, { dispatcher: agent, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
            await res.body.dump()
            return res.statusCode
          },
          catch: describe
        }).pipe(
          Effect.timeoutFail({ duration: Duration.millis(timeoutMs), onTimeout: () => `no answer within ${timeoutMs}ms` }),
          Effect.map((status): ServiceHealth =>
            status >= 200 && status < 300
              ? { status: "healthy", latency_ms: clock.unsafeCurrentTimeMillis() - start }
              : { status: "unhealthy", error: `status ${status}` }
          ),
          Effect.catchAll((error) => Effect.succeed<ServiceHealth>({ status: "unhealthy", error }))
        )
      })

    const check = Effect.gen(function* () {
      const { config: c } = yield* config.current
      const open = (yield* breaker.view).filter((v) => v.state === "open").map((v) => v.service)
      const services = c.health.check_services
        ? Object.fromEntries(
          yield* Effect.forEach(
            serviceNames,
            (name) => Effect.map(probe(`${c.services[name].url}${c.services[name].health_path}`, c.health.service_timeout), (h) => [name, h] as const),
            { concurrency: "unbounded" }
          )
        )
        : undefined
      const degraded = open.length > 0 || (services !== undefined && Object.values(services).some((s) => s.status !== "healthy"))
      const report: HealthReport = {
        status: degraded ? "degraded" : "ok",
        timestamp: new Date().toISOString(),
        ...(services === undefined ? {} : { services }),
        ...(open.length === 0 ? {} : { open_circuit_breakers: open })
      }
      return report
    })

    // Probes from many load balancers share one check a second (SPEC §5).
    const report = yield* Effect.cachedWithTTL(check, "1 second")

    const readiness = Effect.gen(function* () {
      if (lifecycle.isShuttingDown()) return { ready: false, reasons: ["shutting down"] }
      const { config: c } = yield* config.current
      const states = yield* breaker.view
      const open = states.filter((v) => v.state === "open").map((v) => v.service)
      const rule = c.health.readiness_breakers
      // SPEC §5: "all" by default, so one failing backend cannot pull every replica out
      const notReady = rule === "any" ? open.length > 0 : rule === "all" ? open.length > 0 && open.length === states.length : false
      return notReady
        ? { ready: false, reasons: open.map((name) => `circuit breaker open for ${name}`) }
        : { ready: true, reasons: [] }
    })

    return Health.of({ report, readiness })
  })
)
