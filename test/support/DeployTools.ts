// The deploy/ assets as the tests read them, and the external tools that check them
// (promtool, prometheus: Debian's `prometheus` package). A missing tool fails the test
// with the install command: CI installs it, so a skip would hide a broken asset.
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import { accessSync, constants, readFileSync } from "node:fs"
import { delimiter, join } from "node:path"
import { parse as parseYaml } from "yaml"
import { repoRoot } from "./ProcessGateway.js"

/** A path inside the repository. */
export const repoPath = (...parts: Array<string>): string => join(repoRoot, ...parts)

export const readRepoText = (...parts: Array<string>): string => readFileSync(repoPath(...parts), "utf8")

export const readRepoYaml = (...parts: Array<string>): unknown => parseYaml(readRepoText(...parts), { uniqueKeys: true })

export const readRepoJson = (...parts: Array<string>): unknown => JSON.parse(readRepoText(...parts))

/** The executable `name` on PATH, or a failure saying how to install it. */
export const requireTool = (name: "promtool" | "prometheus"): Effect.Effect<string, Error> =>
  Effect.suspend(() => {
    for (const dir of (process.env.PATH ?? "").split(delimiter)) {
      if (dir === "") continue
      const candidate = join(dir, name)
      try {
        accessSync(candidate, constants.X_OK)
        return Effect.succeed(candidate)
      } catch {
        // not in this directory
      }
    }
    return Effect.fail(new Error(
      `${name} is not on PATH: install Debian's prometheus package (apt-get install -y prometheus), ` +
        "which provides both promtool and prometheus; CI installs it (.ci/run)"
    ))
  })

export interface ToolResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to completion (killed after `timeoutMs`); a non-zero exit is a result, not a failure. */
export const runTool = (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number } = {}
): Effect.Effect<ToolResult> =>
  Effect.async<ToolResult>((resume) => {
    const child = execFile(
      file,
      args,
      { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 30_000, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
        resume(Effect.succeed({ code, stdout, stderr: error !== null && error.killed ? `${stderr}\n(killed: timeout)` : stderr }))
      }
    )
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

/** Fails with the tool's output unless it exited 0. */
export const expectSuccess = (what: string) => (result: ToolResult): Effect.Effect<ToolResult, Error> =>
  result.code === 0
    ? Effect.succeed(result)
    : Effect.fail(new Error(`${what} exited ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`))
