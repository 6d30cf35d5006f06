// tls.* at start-up of the compiled gateway (`node dist/gateway.mjs`): files it cannot read or
// a certificate and key that do not belong together are a refused config (SPEC §1: exit 2,
// one line per problem naming the key); good files serve HTTPS. `npm test` builds dist/
// first; run `npm run build` before running this file alone.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { join } from "node:path"
import { freePort } from "../support/HttpBackend.js"
import { eventually } from "../support/HttpClient.js"
import { linesOf, spawnGateway, waitForExit, writeConfig } from "../support/ProcessGateway.js"
import { certificateDir, httpsRequest, makeCertificate } from "../support/TlsCertificates.js"

const processTimeout = 60_000

const tlsConfig = (port: number, tls: ReadonlyArray<string>) =>
  writeConfig([
    "server: { host: 127.0.0.1, port: " + String(port) + ", mode: test }",
    "auth: { enabled: false }",
    "rate_limit: { enabled: false }",
    "health: { check_services: false }",
    "tls:",
    "  enabled: true",
    ...tls.map((line) => `  ${line}`),
    ""
  ].join("\n"))

/** Starts the gateway on `tls` lines and expects exit 2 with stderr lines, no stack trace. */
const refusedWith = (tls: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const path = yield* tlsConfig(yield* freePort, tls)
    const proc = yield* spawnGateway({ CONFIG_PATH: path })
    const { code, signal } = yield* waitForExit(proc, 15_000)
    assert.strictEqual(code, 2, `exit ${code ?? signal}\nstderr:\n${proc.stderr()}`)
    const lines = linesOf(proc.stderr())
    for (const line of lines) assert.notMatch(line, /^\s+at /, `a stack trace line in stderr: ${line}`)
    return lines
  })

describe("TlsStartup", () => {
  it.scopedLive("a cert_file that cannot be read: exit 2 with a line starting tls.cert_file:", () =>
    Effect.gen(function* () {
      const dir = yield* certificateDir
      const pair = yield* makeCertificate(dir, "good")
      const missing = join(dir, "no-such-cert.pem")
      const lines = yield* refusedWith([`cert_file: "${missing}"`, `key_file: "${pair.keyFile}"`])
      assert.strictEqual(lines.length, 1, lines.join("\n"))
      assert.isTrue(lines[0]!.startsWith("tls.cert_file:"), lines.join("\n"))
      assert.include(lines[0]!, missing, "the line names the file")
    }), processTimeout)

  it.scopedLive("a key_file that cannot be read: exit 2 with a line starting tls.key_file:", () =>
    Effect.gen(function* () {
      const dir = yield* certificateDir
      const pair = yield* makeCertificate(dir, "good")
      const missing = join(dir, "no-such-key.pem")
      const lines = yield* refusedWith([`cert_file: "${pair.certFile}"`, `key_file: "${missing}"`])
      assert.strictEqual(lines.length, 1, lines.join("\n"))
      assert.isTrue(lines[0]!.startsWith("tls.key_file:"), lines.join("\n"))
      assert.include(lines[0]!, missing, "the line names the file")
    }), processTimeout)

  it.scopedLive("both files missing: one line for each, at once", () =>
    Effect.gen(function* () {
      const dir = yield* certificateDir
      const lines = yield* refusedWith([`cert_file: "${join(dir, "c.pem")}"`, `key_file: "${join(dir, "k.pem")}"`])
      assert.isTrue(lines.some((l) => l.startsWith("tls.cert_file:")), lines.join("\n"))
      assert.isTrue(lines.some((l) => l.startsWith("tls.key_file:")), lines.join("\n"))
      assert.strictEqual(lines.length, 2, lines.join("\n"))
    }), processTimeout)

  it.scopedLive("tls.enabled without cert_file and key_file: exit 2 naming both keys", () =>
    Effect.gen(function* () {
      const lines = yield* refusedWith(["min_version: \"1.2\""])
      assert.isTrue(lines.some((l) => l.startsWith("tls.cert_file:")), lines.join("\n"))
      assert.isTrue(lines.some((l) => l.startsWith("tls.key_file:")), lines.join("\n"))
    }), processTimeout)

  it.scopedLive("a certificate with another pair's key: exit 2 with a line starting tls:", () =>
    Effect.gen(function* () {
      const dir = yield* certificateDir
      const one = yield* makeCertificate(dir, "one")
      const other = yield* makeCertificate(dir, "other")
      const lines = yield* refusedWith([`cert_file: "${one.certFile}"`, `key_file: "${other.keyFile}"`])
      assert.strictEqual(lines.length, 1, lines.join("\n"))
      assert.isTrue(lines[0]!.startsWith("tls:"), lines.join("\n"))
    }), processTimeout)

  it.scopedLive("good files: the process serves HTTPS and exits 0 on SIGTERM", () =>
    Effect.gen(function* () {
      const pair = yield* makeCertificate(yield* certificateDir, "good")
      const port = yield* freePort
      const path = yield* tlsConfig(port, [`cert_file: "${pair.certFile}"`, `key_file: "${pair.keyFile}"`, "min_version: \"1.3\""])
      const proc = yield* spawnGateway({ CONFIG_PATH: path })
      const res = yield* eventually(httpsRequest(port, "/health/liveness", { ca: pair.cert, timeoutMs: 1_000 }), { timeoutMs: 15_000, intervalMs: 100 })
      assert.strictEqual(res.status, 200, `stderr:\n${proc.stderr()}`)
      assert.strictEqual(res.protocol, "TLSv1.3")
      proc.child.kill("SIGTERM")
      const { code, signal } = yield* waitForExit(proc, 10_000)
      assert.strictEqual(code, 0, `exit ${code ?? signal}\nstderr:\n${proc.stderr()}`)
    }), processTimeout)
})
