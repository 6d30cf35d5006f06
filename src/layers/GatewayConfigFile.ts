import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { createHash } from "node:crypto"
import { loadConfigText, overrideVariables, referencedVariables } from "../domain/ConfigDocument.js"
import { restartOnlyChanges, withRunningRestartOnly } from "../domain/ConfigReload.js"
import { type ConfigSnapshot, GatewayConfig, type ReloadOutcome } from "../services/GatewayConfig.js"

/** A config the gateway refuses (SPEC §1: exit 2, one line per problem). */
export class ConfigInvalid extends Schema.TaggedError<ConfigInvalid>()("ConfigInvalid", {
  path: Schema.String,
  problems: Schema.Array(Schema.String)
}) {}

export const configPath = Config.string("CONFIG_PATH").pipe(Config.withDefault("config.yaml"))

const readEnv = (names: ReadonlyArray<string>) =>
  Effect.forEach(names, (name) =>
    Config.option(Config.string(name)).pipe(Effect.map((value) => [name, Option.getOrUndefined(value)] as const))
  ).pipe(Effect.map((entries) => Object.fromEntries(entries)))

/** Reads, expands, decodes and checks one config file; every problem at once. */
export const loadSnapshot = Effect.fn("GatewayConfig.load")(function* (path: string) {
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs.readFileString(path).pipe(
    Effect.mapError((e) => new ConfigInvalid({ path, problems: [`cannot read the config file: ${e.message}`] }))
  )
  const env = yield* readEnv([...referencedVariables(text), ...overrideVariables]).pipe(
    Effect.mapError((e) => new ConfigInvalid({ path, problems: [`environment: ${String(e)}`] }))
  )
  const loaded = loadConfigText(text, env)
  if (Either.isLeft(loaded)) return yield* new ConfigInvalid({ path, problems: loaded.left })
  const snapshot: ConfigSnapshot = {
    config: loaded.right.config,
    path,
    fileHash: createHash("sha256").update(text).digest("hex"),
    loadedAt: new Date(),
    warnings: loaded.right.warnings
  }
  return snapshot
})

export const GatewayConfigFile = Layer.scoped(
  GatewayConfig,
  Effect.gen(function* () {
    const path = yield* configPath.pipe(Effect.orDie)
    const ref = yield* SubscriptionRef.make(yield* loadSnapshot(path))
    const fs = yield* FileSystem.FileSystem
    const reload = loadSnapshot(path).pipe(
      Effect.provideService(FileSystem.FileSystem, fs),
      Effect.flatMap((next) =>
        SubscriptionRef.modify(ref, (running): [ReloadOutcome, ConfigSnapshot] => {
          const restartNeeded = restartOnlyChanges(running.config, next.config)
          const snapshot = { ...next, config: withRunningRestartOnly(running.config, next.config) }
          return [{ result: "success", snapshot, restartNeeded }, snapshot]
        })
      ),
      Effect.catchTag("ConfigInvalid", (e) => Effect.succeed<ReloadOutcome>({ result: "failure", problems: e.problems }))
    )
    return GatewayConfig.of({ current: SubscriptionRef.get(ref), changes: ref.changes, reload })
  })
)
