// `npm run token` is `node dist/token.js`: `npm test` builds dist/ first; run `npm run build`
// before running this file alone.
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { decodeProtectedHeader, jwtVerify } from "jose"
import { assertAccepted, authGateway, call, freshOrder } from "../support/AuthGateway.js"
import { bearer, jwtSecret, nowSeconds, secretBytes } from "../support/AuthTokens.js"
import { realTime } from "../support/HttpClient.js"
import { type CliResult, runCli, writeConfig } from "../support/ProcessGateway.js"

/** The variables the config loader reads; the CLI starts without any the runner happens to have. */
const configVariables = new Set([
  "CONFIG_PATH", "SERVER_PORT", "SERVER_HOST", "LOG_LEVEL", "JWT_SECRET", "REDIS_URL", "AUTH_ENABLED", "CACHE_ENABLED", "RATE_LIMIT_ENABLED"
])

/** Runs `node dist/token.js …args` to its exit, at most 20 s (it loads the config schema: seconds on a busy machine). */
const runToken = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) =>
  runCli("token.js", args, env, (name) => configVariables.has(name))

const configText = (extraAuth = "") => `server:
  mode: test
auth:
  enabled: true
  jwt_secret: "${jwtSecret}"
${extraAuth}`

/** The one line the CLI printed, checked to be a compact JWS. */
const printedToken = (result: CliResult): string => {
  assert.strictEqual(result.code, 0, `exit code; stderr: ${result.stderr}`)
  const lines = result.stdout.split("\n").filter((l) => l !== "")
  assert.strictEqual(lines.length, 1, `one line on stdout, got ${JSON.stringify(result.stdout)}`)
  assert.match(lines[0]!, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
  return lines[0]!
}

const verify = (token: string) =>
  Effect.promise(() => jwtVerify(token, secretBytes(), { algorithms: ["HS256"] })).pipe(Effect.map((r) => r.payload))

/** A usage error: exit 2, nothing on stdout, `pattern` on stderr. */
const assertUsageError = (result: CliResult, pattern: RegExp) => {
  assert.strictEqual(result.code, 2, `exit code; stderr: ${result.stderr}`)
  assert.strictEqual(result.stdout, "", "nothing on stdout")
  assert.match(result.stderr, pattern)
  assert.notMatch(result.stderr, /\n\s+at .+:\d+:\d+/, "no stack trace")
}

describe("TokenCli", () => {
  // the gateway shares the config's secret, so the CLI's token must open it
  layer(authGateway(), realTime)((it) => {
    it.scoped("--user/--role/--ttl with CONFIG_PATH: prints one HS256 JWT with the claims and exp ≈ now + ttl", () =>
      Effect.gen(function* () {
        const path = yield* writeConfig(configText())
        const before = nowSeconds()
        const token = printedToken(yield* runToken(["--user", "alice", "--role", "operator", "--ttl", "1h"], { CONFIG_PATH: path }))
        const after = nowSeconds()
        assert.strictEqual(decodeProtectedHeader(token).alg, "HS256")
        const payload = yield* verify(token)
        assert.strictEqual(payload.user_id, "alice")
        assert.strictEqual(payload.role, "operator")
        assert.isNumber(payload.exp)
        assert.isAtLeast(payload.exp!, before + 3600)
        assert.isAtMost(payload.exp!, after + 3601)
        if (payload.iat !== undefined) assert.strictEqual(payload.exp! - payload.iat, 3600, "exp - iat is the ttl")
      }))

    it.scoped("--config names the file; --ttl 15m gives exp ≈ now + 900", () =>
      Effect.gen(function* () {
        const path = yield* writeConfig(configText())
        const before = nowSeconds()
        const printed = printedToken(yield* runToken(["--config", path, "--user", "bob", "--role", "viewer", "--ttl", "15m"]))
        const after = nowSeconds()
        const payload = yield* verify(printed)
        assert.strictEqual(payload.user_id, "bob")
        assert.strictEqual(payload.role, "viewer")
        assert.isAtLeast(payload.exp!, before + 900)
        assert.isAtMost(payload.exp!, after + 901)
      }))

    it.scoped("uses the config's auth.claims names, issuer and audience", () =>
      Effect.gen(function* () {
        const path = yield* writeConfig(configText(`  claims:
    user_id: uid
    role: grp
  issuer: https://idp.example.test
  audience: trading-gateway
`))
        const payload = yield* verify(printedToken(yield* runToken(["--config", path, "--user", "carol", "--role", "admin", "--ttl", "2h"])))
        assert.strictEqual(payload.uid, "carol")
        assert.strictEqual(payload.grp, "admin")
        assert.strictEqual(payload.iss, "https://idp.example.test")
        assert.include([payload.aud].flat(), "trading-gateway")
      }))

    it.scoped("the printed token is accepted by a gateway running with that config", () =>
      Effect.gen(function* () {
        const path = yield* writeConfig(configText())
        const token = printedToken(yield* runToken(["--user", "dave", "--role", "operator", "--ttl", "10m"], { CONFIG_PATH: path }))
        yield* assertAccepted(bearer(token), "dave", "operator", "CLI token")
        assert.strictEqual((yield* call("GET", freshOrder(), bearer(token))).status, 200, "an operator route")
        assert.strictEqual((yield* call("PUT", "/api/v1/config/max_position", bearer(token))).status, 403, "an admin route")
      }))

    it.effect("--help exits 0 with the usage on stdout", () =>
      Effect.gen(function* () {
        const result = yield* runToken(["--help"])
        assert.strictEqual(result.code, 0, result.stderr)
        assert.match(result.stdout, /usage/i)
        for (const option of ["--user", "--role", "--ttl"]) assert.include(result.stdout, option)
      }))

    it.scoped("a missing --user exits 2 saying so", () =>
      Effect.gen(function* () {
        const path = yield* writeConfig(configText())
        assertUsageError(yield* runToken(["--role", "viewer", "--ttl", "1h"], { CONFIG_PATH: path }), /--user/)
      }))

    it.scoped("a bad --role exits 2 naming the roles", () =>
      Effect.gen(function* () {
        const path = yield* writeConfig(configText())
        for (const role of [["--role", "root"], ["--role", "Admin"], []]) {
          const result = yield* runToken(["--user", "eve", ...role, "--ttl", "1h"], { CONFIG_PATH: path })
          assertUsageError(result, /--role/)
          assert.match(result.stderr, /viewer.*operator.*admin/)
        }
      }), 70_000)

    it.scoped("a bad --ttl exits 2 saying so", () =>
      Effect.gen(function* () {
        const path = yield* writeConfig(configText())
        for (const ttl of ["forever", "0s", "-5m"]) {
          assertUsageError(yield* runToken(["--user", "eve", "--role", "viewer", `--ttl=${ttl}`], { CONFIG_PATH: path }), /--ttl/)
        }
      }), 70_000)
  })
})
