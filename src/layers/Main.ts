// The one composition of the gateway's layers (STYLE 2.3). AppLive needs only the config,
// the log sink and a file system, so tests swap in a literal config and a capturing sink.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HandlerLive } from "../http/Handler.js"
import { ServerLive } from "../http/Server.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { AdminFromConfig } from "./AdminFromConfig.js"
import { AuthLive } from "./AuthLive.js"
import { BreakerLive } from "./BreakerLive.js"
import { BuildInfoFile } from "./BuildInfoFile.js"
import { CacheFromConfig } from "./CacheFromConfig.js"
import cluster from "node:cluster"
import { ClusterPrimary, workerCount } from "./ClusterPrimary.js"
import { ClusterWorker } from "./ClusterWorker.js"
import { configPath, GatewayConfigFile, loadSnapshot } from "./GatewayConfigFile.js"
import { HealthLive } from "./HealthLive.js"
import { LifecycleLive } from "./LifecycleLive.js"
import { LoggerLive } from "./LoggerLive.js"
import { LogSinkLive } from "./LogSinkLive.js"
import { MetricsLive } from "./MetricsLive.js"
import { ProcessGuards } from "./ProcessGuards.js"
import { ReloadOnSignal } from "./ConfigReload.js"
import { RateLimiterFromConfig } from "./RateLimiterFromConfig.js"
import { RedisLive } from "./RedisLive.js"
import { TracingLive } from "./TracingLive.js"
import { UpstreamLive } from "./UpstreamLive.js"
import { UpstreamStatsLive } from "./UpstreamStatsLive.js"
import { WebSocketsLive } from "./WebSocketsLive.js"

const ConfigWarnings = Layer.effectDiscard(
  Effect.flatMap(GatewayConfig, (c) => c.current).pipe(
    Effect.flatMap(({ path, warnings }) =>
      Effect.forEach(warnings, (warning) => Effect.logWarning(warning).pipe(Effect.annotateLogs({ config: path })), { discard: true })
    )
  )
)

const Basics = Layer.mergeAll(MetricsLive, LifecycleLive, BuildInfoFile, UpstreamLive, UpstreamStatsLive)
const Edge = Layer.mergeAll(WebSocketsLive, TracingLive)
const Breakers = BreakerLive
const Stores = Layer.mergeAll(RateLimiterFromConfig, CacheFromConfig).pipe(Layer.provideMerge(RedisLive))
const Pipeline = HandlerLive.pipe(
  Layer.provideMerge(Layer.mergeAll(HealthLive, AuthLive, Stores, Edge)),
  Layer.provideMerge(Breakers)
)

// the admin listener is up before the main one answers: "serving" means fully started
export const AppLive = ServerLive.pipe(
  Layer.provideMerge(AdminFromConfig),
  Layer.provideMerge(Pipeline),
  Layer.provideMerge(Basics),
  Layer.provideMerge(Layer.mergeAll(ConfigWarnings, ProcessGuards, ReloadOnSignal.pipe(Layer.provide(MetricsLive)))),
  Layer.provideMerge(LoggerLive)
)

export const MainLive = AppLive.pipe(
  Layer.provideMerge(ClusterWorker.pipe(Layer.provide(LifecycleLive))),
  Layer.provideMerge(LogSinkLive),
  Layer.provideMerge(GatewayConfigFile),
  Layer.provide(NodeFileSystem.layer)
)

const PrimaryLive = ClusterPrimary.pipe(
  Layer.provide(LoggerLive),
  Layer.provideMerge(LogSinkLive),
  Layer.provideMerge(GatewayConfigFile),
  Layer.provide(NodeFileSystem.layer)
)

/** One process serving, or the primary of server.workers processes (node:cluster). */
export const GatewayLive = Layer.unwrapEffect(
  Effect.flatMap(configPath.pipe(Effect.orDie), loadSnapshot).pipe(
    Effect.map(({ config }) => (cluster.isPrimary && workerCount(config.server.workers) > 1 ? PrimaryLive : MainLive)),
    Effect.provide(NodeFileSystem.layer)
  )
)
