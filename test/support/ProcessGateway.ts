// The compiled gateway (`node dist/gateway.mjs`) as a child process, for the tests of what
// only a process shows: exit codes, stderr, signals. Every child is killed with its
// scope, every wait is bounded.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { eventually, send } from "./HttpClient.js"

/** The repository root, where config.yaml and dist/ live. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

/** `npm start`'s command (package.json): node, its flags, dist/gateway.mjs. */
export const startCommand = (): Array<string> =>
  String((JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts?: { start?: string } }).scripts?.start ?? "").trim().split(/\s+/)

/** The variables SPEC §1 reads; the children start without any the test runner happens to have. */
const gatewayVariables = [
  "CONFIG_PATH", "SERVER_PORT", "SERVER_HOST", "LOG_LEVEL", "JWT_SECRET", "REDIS_URL",
  "AUTH_ENABLED", "CACHE_ENABLED", "RATE_LIMIT_ENABLED"
]

export interface ExitStatus {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface GatewayProcess {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitStatus>
}

/** A temporary YAML file holding `text`, removed with the scope. */
export const writeConfig = (text: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = await mkdtemp(join(tmpdir(), "gateway-process-test-"))
      const path = join(dir, "config.yaml")
      await writeFile(path, text, "utf8")
      return path
    }),
    (path) => Effect.promise(() => rm(join(path, ".."), { recursive: true, force: true }))
  )

/**
 * Starts `node dist/gateway.mjs` as `npm start` does (its flags too) in the repository root,
 * with `env` over a clean copy of the environment; the scope kills it (SIGKILL) if it is
 * still running.
 */
export const spawnGateway = (env: Readonly<Record<string, string>>): Effect.Effect<GatewayProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const base = { ...process.env }
      for (const name of gatewayVariables) delete base[name]
      const child = spawn(process.execPath, startCommand().slice(1), { cwd: repoRoot, env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout?.setEncoding("utf8").on("data", (s: string) => void (stdout += s))
      child.stderr?.setEncoding("utf8").on("data", (s: string) => void (stderr += s))
      const exited = new Promise<ExitStatus>((resolve) => {
        child.once("exit", (code, signal) => resolve({ code, signal }))
      })
      const proc: GatewayProcess = { child, stdout: () => stdout, stderr: () => stderr, exited }
      return proc
    }),
    (proc) =>
      Effect.gen(function* () {
        if (proc.child.exitCode !== null || proc.child.signalCode !== null) return
        proc.child.kill("SIGKILL")
        yield* Effect.promise(() => proc.exited).pipe(Effect.timeout("5 seconds"), Effect.ignore)
      })
  )

/** The process's exit status, failing the test when it has not exited within `timeoutMs`. */
export const waitForExit = (proc: GatewayProcess, timeoutMs: number): Effect.Effect<ExitStatus, Error> =>
  Effect.promise(() => proc.exited).pipe(
    Effect.timeoutFail({
      duration: `${timeoutMs} millis`,
      onTimeout: () => new Error(`the gateway did not exit within ${timeoutMs} ms\nstderr:\n${proc.stderr()}\nstdout:\n${proc.stdout().slice(-2_000)}`)
    })
  )

/** Polls `url` until it answers 200, for at most `timeoutMs`; fails at once if the process exits. */
export const waitForReady = (proc: GatewayProcess, url: string, timeoutMs = 15_000): Effect.Effect<void, Error> =>
  Effect.raceFirst(
    eventually(
      Effect.flatMap(send(url), (res) => (res.status === 200 ? Effect.void : Effect.fail(new Error(`${url} answered ${res.status}`)))),
      { timeoutMs, intervalMs: 100 }
    ),
    Effect.flatMap(Effect.promise(() => proc.exited), ({ code, signal }) =>
      Effect.fail(new Error(`the gateway exited (${code ?? signal}) before serving\nstderr:\n${proc.stderr()}`)))
  )

/** The non-empty lines of a text. */
export const linesOf = (text: string): Array<string> => text.split("\n").filter((l) => l.trim() !== "")

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * `node dist/<script> …args` from the repository root to its exit, at most 20 s (a CLI that
 * loads the config schema takes seconds on a busy machine), over this process's environment
 * without the variables `drop` names, plus `env`.
 */
export const runCli = (script: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>>, drop: (name: string) => boolean): Effect.Effect<CliResult> =>
  Effect.gen(function* () {
    const cliPath = join(repoRoot, "dist", script)
    if (!existsSync(cliPath)) return yield* Effect.dieMessage(`${cliPath} is missing: run \`npm run build\` first`)
    return yield* Effect.async<CliResult>((resume) => {
      const base = { ...process.env }
      for (const name of Object.keys(base)) if (drop(name)) delete base[name]
      const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (s: string) => void (stdout += s))
      child.stderr.setEncoding("utf8").on("data", (s: string) => void (stderr += s))
      child.once("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
      return Effect.sync(() => void child.kill("SIGKILL"))
    }).pipe(
      Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`${script} ${args.join(" ")} did not exit within 20 s`) }),
      Effect.orDie
    )
  })
