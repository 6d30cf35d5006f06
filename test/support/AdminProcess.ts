// The compiled gateway (`node dist/gateway.mjs`) with its admin listener, for what only a real
// config file shows (POST /admin/reload), and the compiled `gatewayctl` CLI run to its exit.
// `npm test` builds dist/ first; run `npm run build` before running these files alone.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { writeFile } from "node:fs/promises"
import { stringify } from "yaml"
import { freePort } from "./HttpBackend.js"
import { type CliResult, type GatewayProcess, runCli, spawnGateway, waitForReady, writeConfig } from "./ProcessGateway.js"
import { merge } from "./TestConfig.js"

type Doc = Record<string, unknown>

export interface AdminProcess {
  readonly proc: GatewayProcess
  readonly base: string
  readonly adminBase: string
  readonly configPath: string
  /** Replaces the config file's text; nothing is signalled. */
  readonly rewrite: (doc: Doc | string) => Effect.Effect<void>
  /** The document the process started with, ports included. */
  readonly doc: Doc
}

export const yamlOf = (doc: Doc): string => stringify(doc)

/** Writes `over` merged on a loopback test config with admin on, starts the gateway, waits until both listeners answer. */
export const startAdminProcess = (over: Doc): Effect.Effect<AdminProcess, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const port = yield* freePort
    const adminPort = yield* freePort
    const doc = merge({
      server: { host: "127.0.0.1", port, mode: "test", shutdown_timeout: "2s" },
      admin: { enabled: true, host: "127.0.0.1", port: adminPort },
      rate_limit: { enabled: false },
      health: { check_services: false },
      logging: { level: "info", format: "json", output: "stdout" }
    }, over)
    const configPath = yield* writeConfig(yamlOf(doc))
    const proc = yield* spawnGateway({ CONFIG_PATH: configPath })
    const base = `http://127.0.0.1:${port}`
    const adminBase = `http://127.0.0.1:${adminPort}`
    yield* waitForReady(proc, `${base}/health/liveness`)
    return {
      proc,
      base,
      adminBase,
      configPath,
      doc,
      rewrite: (next) => Effect.promise(() => writeFile(configPath, typeof next === "string" ? next : yamlOf(next), "utf8"))
    }
  })

export type { CliResult } from "./ProcessGateway.js"

/** `node dist/gatewayctl.js …args` to its exit (at most 20 s), with only `env`'s GATEWAYCTL_* variables. */
export const runGatewayctl = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}): Effect.Effect<CliResult> =>
  runCli("gatewayctl.js", args, env, (name) => name.startsWith("GATEWAYCTL_"))
