// Records the commit and the build time next to the compiled gateway (SPEC §5 /version).
import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"

let commit = process.env.GIT_COMMIT || "unknown"
if (commit === "unknown") {
  try {
    commit = execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    // not a checkout (a container build): "unknown" it is
  }
}
mkdirSync("dist", { recursive: true })
writeFileSync("dist/build-info.json", JSON.stringify({ git_commit: commit, build_time: new Date().toISOString() }) + "\n")
