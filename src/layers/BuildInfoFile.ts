import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { BuildInfo } from "../services/BuildInfo.js"

// package.json sits in the project root, above src/, dist/ and the dist/gateway.cjs bundle;
// build-info.json is written into dist/ by `npm run build` (scripts/build-info.mjs).
// GIT_COMMIT / BUILD_TIME override both. This module runs from src/layers (tests),
// dist/layers (the CLIs) or inside dist/gateway.cjs (its import.meta.url is the bundle's URL,
// scripts/bundle.mjs): the root is found by walking up.
const projectRoot = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4 && !existsSync(join(dir, "package.json")); i++) dir = dirname(dir)
  return dir
}

const readJson = (fs: FileSystem.FileSystem, path: string) =>
  fs.readFileString(path).pipe(
    Effect.map((text) => JSON.parse(text) as Record<string, unknown>),
    Effect.orElseSucceed(() => ({}) as Record<string, unknown>)
  )

const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined)

export const BuildInfoFile = Layer.effect(
  BuildInfo,
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const root = projectRoot()
    const pkg = yield* readJson(fs, join(root, "package.json"))
    const build = yield* readJson(fs, join(root, "dist", "build-info.json"))
    const commit = yield* Config.string("GIT_COMMIT").pipe(Config.option, Effect.orElseSucceed(() => undefined))
    const time = yield* Config.string("BUILD_TIME").pipe(Config.option, Effect.orElseSucceed(() => undefined))
    return BuildInfo.of({
      version: text(pkg.version) ?? "unknown",
      build_time: (time?._tag === "Some" ? time.value : undefined) ?? text(build.build_time) ?? "unknown",
      git_commit: (commit?._tag === "Some" ? commit.value : undefined) ?? text(build.git_commit) ?? "unknown",
      service: "api-gateway"
    })
  })
)
