// The compiled gateway (`node dist/gateway.mjs`) with its admin listener, for what only a real
// config file shows (POST /admin/reload), and the compiled `gatewayctl` CLI run to its exit.
// `npm test` builds dist/ first; run `npm run build` before running these files alone.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { stringify } from "yaml"
import { freePort } from "./HttpBackend.js"
import { type GatewayProcess, repoRoot, spawnGateway, waitForReady, writeConfig } from "./ProcessGateway.js"
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

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const cliPath = join(repoRoot, "dist", "gatewayctl.js")

/** `node dist/gatewayctl.js …args` to its exit (at most 20 s), with only `env`'s GATEWAYCTL_* variables. */
export const runGatewayctl = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}): Effect.Effect<CliResult> =>
  Effect.gen(function* () {
    if (!existsSync(cliPath)) return yield* Effect.dieMessage(`${cliPath} is missing: run \`npm run build\` first`)
    return yield* Effect.async<CliResult>((resume) => {
      const base = { ...process.env }
      for (const name of Object.keys(base)) if (name.startsWith("GATEWAYCTL_")) delete base[name]
      const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (s: string) => void (stdout += s))
      child.stderr.setEncoding("utf8").on("data", (s: string) => void (stderr += s))
      child.once("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
      return Effect.sync(() => void child.kill("SIGKILL"))
    }).pipe(
      Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`gatewayctl ${args.join(" ")} did not exit within 20 s`) }),
      Effect.orDie
    )
  })
