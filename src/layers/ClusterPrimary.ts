// server.workers > 1 (SPEC §7): this process forks the workers that serve the port
// (node:cluster), aggregates their /metrics, forwards SIGHUP, drains them on shutdown and
// replaces a worker that dies. Memory stores and breakers stay per worker.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import cluster, { type Worker } from "node:cluster"
import { availableParallelism } from "node:os"
import { AggregatorRegistry } from "prom-client"
import { GatewayConfig } from "../services/GatewayConfig.js"

export const metricsRequest = "gw:metrics:req"
export const metricsResponse = "gw:metrics:res"
export const shutdownMessage = "gw:shutdown"

export const workerCount = (workers: number | "auto"): number => (workers === "auto" ? availableParallelism() : workers)

export const ClusterPrimary = Layer.scopedDiscard(
  Effect.gen(function* () {
    const { config } = yield* (yield* GatewayConfig).current
    const count = workerCount(config.server.workers)
    const aggregator = new AggregatorRegistry()
    let stopping = false

    const onMessage = (worker: Worker, message: { type?: string; id?: number }) => {
      if (message?.type !== metricsRequest) return
      aggregator.clusterMetrics().then(
        (body) => worker.send({ type: metricsResponse, id: message.id, body, contentType: aggregator.contentType }),
        (error: Error) => worker.send({ type: metricsResponse, id: message.id, error: error.message })
      )
    }
    const fork = () => cluster.fork({ GATEWAY_WORKERS: String(count) })
    const onExit = (worker: Worker, code: number | null, signal: string | null) => {
      if (stopping) return
      process.stderr.write(`${JSON.stringify({ level: "error", ts: new Date().toISOString(), msg: "worker exited; starting another", pid: worker.process.pid, code, signal })}\n`)
      setTimeout(fork, 500)
    }
    const onHangup = () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGHUP")
    }

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        cluster.on("message", onMessage)
        cluster.on("exit", onExit)
        process.on("SIGHUP", onHangup)
        for (let i = 0; i < count; i++) fork()
      }),
      () =>
        // a finalizer cannot be interrupted, so Effect.timeout could not cut this wait: the
        // bound is a timer inside the one callback
        Effect.async<void>((resume) => {
          stopping = true
          process.off("SIGHUP", onHangup)
          const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead())
          if (alive.length === 0) return resume(Effect.void)
          const bound = setTimeout(() => {
            for (const w of alive) if (!w.isDead()) w.process.kill("SIGKILL")
            resume(Effect.void)
          }, config.server.shutdown_delay + config.server.shutdown_timeout + 5_000)
          let left = alive.length
          for (const w of alive) {
            w.once("exit", () => {
              if (--left > 0) return
              clearTimeout(bound)
              resume(Effect.void)
            })
            // a message, not a signal: a terminal's Ctrl-C already signalled the whole group
            w.send({ type: shutdownMessage })
          }
        })
    )
    yield* Effect.logInfo("gateway primary started its workers").pipe(Effect.annotateLogs({ workers: count }))
  })
)
