// The Dockerfile and .dockerignore. No Docker engine runs in CI, so the build steps are
// checked as text (the same npm steps CI runs), the files it copies are checked against
// the context, and its HEALTHCHECK command is run for real against a live gateway.
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { existsSync } from "node:fs"
import { readRepoText, repoPath, runTool } from "../support/DeployTools.js"
import { freePort } from "../support/HttpBackend.js"
import { startCommand } from "../support/ProcessGateway.js"
import { HttpListener } from "../../src/http/Server.js"
import { makeTestGateway } from "../support/TestGateway.js"

const dockerfile = () => readRepoText("Dockerfile")

/** Instructions with their continuation lines joined, comments dropped. */
const instructions = (): Array<{ op: string; args: string }> =>
  dockerfile()
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [op = "", ...rest] = l.split(/\s+/)
      return { op: op.toUpperCase(), args: rest.join(" ") }
    })

const stages = () => {
  const out: Array<{ from: string; lines: Array<{ op: string; args: string }> }> = []
  for (const i of instructions()) {
    if (i.op === "FROM") out.push({ from: i.args, lines: [] })
    else out[out.length - 1]?.lines.push(i)
  }
  return out
}

const ignorePatterns = () => readRepoText(".dockerignore").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))

/** Whether a context path is excluded by a .dockerignore line (the patterns used here: names, globs, no negation). */
const ignored = (path: string): boolean =>
  ignorePatterns().some((pattern) => {
    const regex = new RegExp(`^${pattern.replace(/\/$/, "").replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/.*)?$`)
    return regex.test(path)
  })

/** The node -e script of the exec-form HEALTHCHECK. */
const healthcheckScript = (): string => {
  const line = instructions().find((i) => i.op === "HEALTHCHECK")
  assert.isDefined(line, "a HEALTHCHECK")
  const exec = /CMD\s+(\[.*\])\s*$/.exec(line!.args)
  assert.isNotNull(exec, "HEALTHCHECK CMD in exec form")
  const argv = JSON.parse(exec![1]!) as Array<string>
  assert.deepStrictEqual(argv.slice(0, 2), ["node", "-e"], "run with node (no curl in the slim image)")
  return argv[2]!
}

describe("Dockerfile", () => {
  it("builds with npm ci and npm run build, then keeps only production dependencies", () => {
    const [build, runtime, ...more] = stages()
    assert.lengthOf(more, 0, "two stages")
    assert.strictEqual(build?.from, "node:20-bookworm-slim AS build")
    assert.strictEqual(runtime?.from, "node:20-bookworm-slim AS runtime")
    const runs = build!.lines.filter((l) => l.op === "RUN").map((l) => l.args).join(" && ")
    assert.match(runs, /\bnpm ci\b/)
    assert.match(runs, /\bnpm run build\b/)
    assert.match(runs, /\bnpm prune --omit=dev\b/)
    assert.isBelow(runs.indexOf("npm ci"), runs.indexOf("npm run build"))
    assert.isBelow(runs.indexOf("npm run build"), runs.indexOf("npm prune"))
  })

  it("the runtime stage holds dist/, node_modules, package.json and config.yaml and runs npm start's command as node", () => {
    const runtime = stages()[1]!.lines
    const copied = runtime.filter((l) => l.op === "COPY").map((l) => l.args.split(/\s+/).filter((a) => !a.startsWith("--")).slice(-1)[0])
    assert.sameMembers(copied, ["./package.json", "./node_modules", "./dist", "./config.yaml"])
    assert.deepInclude(runtime, { op: "USER", args: "node" })
    assert.deepInclude(runtime, { op: "EXPOSE", args: "8000" })
    const cmd = runtime.filter((l) => l.op === "CMD")
    assert.lengthOf(cmd, 1)
    assert.deepStrictEqual(JSON.parse(cmd[0]!.args), startCommand(), "exec form, the same command and node flags as npm start")
    assert.isFalse(runtime.some((l) => l.op === "RUN"), "nothing runs as root in the runtime stage")
    assert.include(healthcheckScript(), "/health/liveness")
  })

  it("npm start runs the bundle with the young generation's semi-spaces at 8 MB (docs/performance-log.md: RSS)", () => {
    assert.deepStrictEqual(startCommand(), ["node", "--max-semi-space-size=8", "dist/gateway.mjs"])
  })

  it("every file it copies from the context exists and is not excluded by .dockerignore", () => {
    const sources = stages().flatMap((s) => s.lines)
      .filter((l) => l.op === "COPY" && !l.args.includes("--from="))
      .flatMap((l) => l.args.split(/\s+/).slice(0, -1))
    assert.includeMembers(sources, ["package.json", "package-lock.json", "src", "config.yaml"])
    for (const source of sources) {
      assert.isTrue(existsSync(repoPath(source)), `${source} exists`)
      assert.isFalse(ignored(source), `${source} is not in .dockerignore`)
    }
  })

  it(".dockerignore keeps dependencies, build output, tests, results and history out of the context", () => {
    for (const path of ["node_modules", "node_modules/effect/package.json", "dist", "test", "bench/results", "coverage", ".git", "npm-debug.log", "logs"]) {
      assert.isTrue(ignored(path), `${path} is excluded`)
    }
  })
})

layer(makeTestGateway(), { excludeTestServices: true })("Dockerfile HEALTHCHECK", (it) => {
  it.effect("exits 0 against a live gateway's /health/liveness and 1 when nothing listens", () =>
    Effect.gen(function* () {
      const { port } = yield* HttpListener
      const script = healthcheckScript()
      const up = yield* runTool(process.execPath, ["-e", script], { env: { SERVER_PORT: String(port) }, timeoutMs: 10_000 })
      assert.strictEqual(up.code, 0, up.stderr)
      const down = yield* runTool(process.execPath, ["-e", script], { env: { SERVER_PORT: String(yield* freePort) }, timeoutMs: 10_000 })
      assert.strictEqual(down.code, 1, down.stderr)
    }), 30_000)
})
