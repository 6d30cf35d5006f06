import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { GatewayConfig as Config } from "../domain/GatewayConfig.js"

/** One immutable, decoded config; a request reads it once, at its start (STYLE 2.6). */
export interface ConfigSnapshot {
  readonly config: Config
  readonly path: string
  readonly fileHash: string
  readonly loadedAt: Date
  readonly warnings: ReadonlyArray<string>
}

/** What a reload did (SPEC §1 SIGHUP). */
export type ReloadOutcome =
  | { readonly result: "success"; readonly snapshot: ConfigSnapshot; readonly restartNeeded: ReadonlyArray<string> }
  | { readonly result: "failure"; readonly problems: ReadonlyArray<string> }

export class GatewayConfig extends Context.Tag("gateway/GatewayConfig")<
  GatewayConfig,
  {
    readonly current: Effect.Effect<ConfigSnapshot>
    /** The current snapshot, then each one that replaces it. */
    readonly changes: Stream.Stream<ConfigSnapshot>
    /** Reads the file again; an invalid one changes nothing. Restart-only keys keep their running values. */
    readonly reload: Effect.Effect<ReloadOutcome>
  }
>() {}
