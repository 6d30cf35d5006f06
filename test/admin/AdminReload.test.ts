// Issue #11 §3: POST /admin/reload does what SIGHUP does (SPEC §1) and answers with the
// outcome, on a real process whose config file the test rewrites.
// `npm test` builds dist/ first; run `npm run build` before running this file alone.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { readFile } from "node:fs/promises"
import { eventually, send } from "../support/HttpClient.js"
import { startAdminProcess, yamlOf } from "../support/AdminProcess.js"
import { merge } from "../support/TestConfig.js"
import { linesOf } from "../support/ProcessGateway.js"

/** A process starts in about a second, more on a loaded machine. */
const processTimeout = 60_000

const adminKey = { key: "reload-admin-key-5c2e7a91d3", role: "admin", name: "ops-console" }
const newViewer = { key: "reload-viewer-key-8b4d1f60a2", role: "viewer", name: "late-viewer" }
const auth = { enabled: true, jwt_secret: "admin-reload-secret-0123456789abcdefghij", api_keys: [adminKey] }

const reload = (adminBase: string) => send(`${adminBase}/admin/reload`, { method: "POST", headers: { "x-api-key": adminKey.key } })

describe("AdminReload", () => {
  it.scopedLive("reads the file again: new keys apply at once, restart-only changes are named, the hash and time are new", () =>
    Effect.gen(function* () {
      const gw = yield* startAdminProcess({ auth })
      const before = (yield* send(`${gw.adminBase}/admin/config`, { headers: { "x-api-key": adminKey.key } })).json!
      const symbols = `${gw.base}/api/v1/dashboard/status`
      assert.strictEqual((yield* send(symbols, { headers: { "x-api-key": newViewer.key } })).status, 401, "unknown before the reload")

      const next = merge(gw.doc, { auth: { api_keys: [adminKey, newViewer] } })
      yield* gw.rewrite(next)
      const res = yield* reload(gw.adminBase)
      assert.strictEqual(res.status, 200, res.text)
      const text = yield* Effect.promise(() => readFile(gw.configPath, "utf8"))
      assert.deepStrictEqual(res.json?.result, "success")
      assert.strictEqual(res.json?.file_hash, createHash("sha256").update(text).digest("hex"))
      assert.deepStrictEqual(res.json?.restart_needed, [])
      assert.notStrictEqual((yield* send(symbols, { headers: { "x-api-key": newViewer.key } })).status, 401, "the new key is known")

      const after = (yield* send(`${gw.adminBase}/admin/config`, { headers: { "x-api-key": adminKey.key } })).json!
      assert.strictEqual(after.file_hash, res.json?.file_hash)
      assert.isAbove(Date.parse(after.loaded_at as string), Date.parse(before.loaded_at as string))
      assert.notInclude(JSON.stringify(after), newViewer.key, "the new key is redacted too")

      yield* gw.rewrite(merge(next, { server: { port: 1 } }))
      const restart = yield* reload(gw.adminBase)
      assert.strictEqual(restart.status, 200)
      assert.isTrue((restart.json?.restart_needed as Array<string>).some((k) => k.startsWith("server")), restart.text)

      // log lines are written a turn later: wait for both
      yield* eventually(Effect.sync(() => {
        const audit = linesOf(gw.proc.stdout()).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "admin action")
        assert.deepStrictEqual(audit.map((l) => [l.action, l.caller, l.result, l.target]), [
          ["reload", "ops-console", "success", gw.configPath],
          ["reload", "ops-console", "success", gw.configPath]
        ])
      }))
    }), processTimeout)

  it.scopedLive("an invalid file is refused with 422 and its problems; the running config is kept", () =>
    Effect.gen(function* () {
      const gw = yield* startAdminProcess({ auth })
      const hash = (yield* send(`${gw.adminBase}/admin/config`, { headers: { "x-api-key": adminKey.key } })).json?.file_hash
      yield* gw.rewrite(yamlOf(merge(gw.doc, { rate_limit: { global: { burst: "abc" } }, rate_limt: {} })))
      const res = yield* reload(gw.adminBase)
      assert.strictEqual(res.status, 422, res.text)
      assert.strictEqual(res.json?.error, "Config reload refused")
      assert.strictEqual(res.json?.result, "failure")
      const problems = res.json?.problems as Array<string>
      assert.isTrue(problems.some((p) => p.startsWith("rate_limit.global.burst:")), problems.join("\n"))
      assert.isTrue(problems.some((p) => p.includes("rate_limt")), problems.join("\n"))
      const kept = (yield* send(`${gw.adminBase}/admin/config`, { headers: { "x-api-key": adminKey.key } })).json
      assert.strictEqual(kept?.file_hash, hash, "the running config is kept")
      assert.strictEqual((yield* send(`${gw.base}/health/liveness`)).status, 200)
    }), processTimeout)
})
