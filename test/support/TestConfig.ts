import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { checkConfig, decodeDocument } from "../../src/domain/ConfigDocument.js"
import type { GatewayConfig as Config } from "../../src/domain/GatewayConfig.js"
import { type ConfigSnapshot, GatewayConfig } from "../../src/services/GatewayConfig.js"

type Doc = Record<string, unknown>

/** Deep merge of plain objects; arrays and scalars of `over` replace those of `base`. */
export const merge = (base: Doc, over: Doc): Doc => {
  const out: Doc = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const b = out[k]
    out[k] = typeof v === "object" && v !== null && !Array.isArray(v) && typeof b === "object" && b !== null && !Array.isArray(b)
      ? merge(b as Doc, v as Doc)
      : v
  }
  return out
}

/** A loopback gateway in test mode, nothing listening behind it unless a test says so. */
export const baseDoc: Doc = {
  server: { host: "127.0.0.1", port: 0, mode: "test", shutdown_timeout: "2s" },
  auth: { enabled: false },
  rate_limit: { enabled: false },
  health: { check_services: false },
  logging: { level: "debug" }
}

export const decodeConfig = (doc: Doc): Config => {
  const decoded = decodeDocument(doc)
  if (Either.isLeft(decoded)) throw new Error(`test config is invalid:\n${decoded.left.join("\n")}`)
  const { problems } = checkConfig(decoded.right)
  if (problems.length > 0) throw new Error(`test config is invalid:\n${problems.join("\n")}`)
  return decoded.right
}

export const snapshotOf = (config: Config): ConfigSnapshot => ({
  config,
  path: "(test)",
  fileHash: "test",
  loadedAt: new Date(),
  warnings: []
})

/** GatewayConfig from a literal document merged over baseDoc; `ref` lets a test swap it. */
export const makeConfigLayer = (over: Doc = {}) => {
  const config = decodeConfig(merge(baseDoc, over))
  return Layer.effect(
    GatewayConfig,
    Effect.map(SubscriptionRef.make(snapshotOf(config)), (ref) =>
      GatewayConfig.of({
        current: SubscriptionRef.get(ref),
        changes: ref.changes,
        reload: Effect.succeed({ result: "failure", problems: ["a literal test config has no file to reload"] })
      }))
  )
}
