// SPEC §1 SIGHUP, what takes effect for new requests: API keys, rate limits, CORS and the
// log level, read again from the file of a running process (`node dist/gateway.mjs`).
// `npm test` builds dist/ first; run `npm run build` before running this file alone.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { startBackend } from "../support/HttpBackend.js"
import { eventually } from "../support/HttpClient.js"
import {
  accessLineOf, awaitLogLine, awaitReloads, getWith, reloadCount, reloadDoc, reloadKeys, startReloadGateway, stringsIn,
  viewerKey, yamlOf
} from "../support/ReloadProcess.js"

/** A process starts in about a second, more on a loaded machine: every wait inside is bounded too. */
const processTimeout = 60_000

const symbols = "/api/v1/market-data/symbols"
const withA = { "x-api-key": reloadKeys.a }
const withB = { "x-api-key": reloadKeys.b }

describe("ReloadSettings", () => {
  it.scopedLive("a SIGHUP replaces the API keys for new requests and counts result=\"success\"", () =>
    Effect.gen(function* () {
      const backend = yield* startBackend()
      const gw = yield* startReloadGateway(backend.url)
      assert.strictEqual((yield* getWith(gw.base, symbols, withA)).status, 200, "key A works before the reload")
      assert.strictEqual((yield* getWith(gw.base, symbols, withB)).status, 401, "key B is unknown before the reload")
      assert.strictEqual(yield* reloadCount(gw.base, "success"), 0)

      yield* gw.reloadWith(yamlOf(reloadDoc(gw.port, backend.url, { auth: { api_keys: [viewerKey("b")] } })))

      yield* eventually(
        Effect.flatMap(getWith(gw.base, symbols, withB), (res) => Effect.sync(() => assert.strictEqual(res.status, 200, "key B accepted after the reload"))),
        { timeoutMs: 5_000, intervalMs: 50 }
      )
      const refused = yield* getWith(gw.base, symbols, withA)
      assert.strictEqual(refused.status, 401, "key A refused after the reload")
      assert.strictEqual(refused.json?.error, "Invalid API key")
      yield* awaitReloads(gw.base, "success", 1)
      assert.strictEqual(yield* reloadCount(gw.base, "success"), 1)
      assert.strictEqual(yield* reloadCount(gw.base, "failure"), 0)
      assert.strictEqual(backend.requests.at(-1)?.headers["x-auth-user"], "key:viewer-b", "the new key's name reaches the backend")
    }), processTimeout)

  it.scopedLive("a tiny rate_limit.global burst read on SIGHUP refuses new requests with 429", () =>
    Effect.gen(function* () {
      const backend = yield* startBackend()
      const gw = yield* startReloadGateway(backend.url)
      const burst = (n: number) => Effect.forEach(Array.from({ length: n }), () => getWith(gw.base, symbols, withA))
      const before = yield* burst(10)
      assert.deepStrictEqual(before.map((r) => r.status), Array(10).fill(200), "burst 2000 admits ten requests")

      yield* gw.reloadWith(yamlOf(reloadDoc(gw.port, backend.url, { rate_limit: { global: { requests_per_second: 1, burst: 2 } } })))

      const after = yield* eventually(
        Effect.flatMap(burst(10), (replies) => {
          const limited = replies.filter((r) => r.status === 429)
          return limited.length >= 7 ? Effect.succeed(limited) : Effect.dieMessage(`${limited.length} of 10 got 429`)
        }),
        { timeoutMs: 5_000, intervalMs: 100 }
      )
      assert.strictEqual(after[0]?.json?.error, "Global rate limit exceeded")
      assert.isNotNull(after[0]?.headers.get("retry-after"), "a 429 carries Retry-After")
      assert.strictEqual(yield* reloadCount(gw.base, "success"), 1)
    }), processTimeout)

  it.scopedLive("cors.allowed_origins read on SIGHUP: the new origin is echoed, the removed one is not", () =>
    Effect.gen(function* () {
      const backend = yield* startBackend()
      const gw = yield* startReloadGateway(backend.url)
      const allowedOrigin = (origin: string) =>
        Effect.map(getWith(gw.base, "/health/liveness", { origin }), (r) => r.headers.get("access-control-allow-origin"))
      assert.strictEqual(yield* allowedOrigin("http://one.example"), "http://one.example")
      assert.isNull(yield* allowedOrigin("http://two.example"), "not allowed before the reload")

      yield* gw.reloadWith(yamlOf(reloadDoc(gw.port, backend.url, { cors: { allowed_origins: ["http://two.example"] } })))

      yield* eventually(
        Effect.flatMap(allowedOrigin("http://two.example"), (echoed) => Effect.sync(() => assert.strictEqual(echoed, "http://two.example"))),
        { timeoutMs: 5_000, intervalMs: 50 }
      )
      assert.isNull(yield* allowedOrigin("http://one.example"), "the origin the new file dropped gets no CORS headers")
    }), processTimeout)

  it.scopedLive("logging.level read on SIGHUP: error silences the access log, debug brings it back", () =>
    Effect.gen(function* () {
      const backend = yield* startBackend()
      const gw = yield* startReloadGateway(backend.url)
      const request = (id: string) => getWith(gw.base, symbols, { ...withA, "x-request-id": id })
      const accessLogged = (id: string) =>
        awaitLogLine(gw.proc, `for request ${id}`, (l) => l.msg === "HTTP request" && l.request_id === id)

      yield* request("level-info-1")
      yield* accessLogged("level-info-1")

      yield* gw.reloadWith(yamlOf(reloadDoc(gw.port, backend.url, { logging: { level: "error" } })))
      yield* awaitReloads(gw.base, "success", 1)
      yield* request("level-error-1")
      // an error line written after that request: the sink keeps the order of lines, so once
      // it is out, an access line for the request would be out too
      yield* gw.reloadWith("rate_limit: {global: {burst: abc}}\n")
      yield* awaitLogLine(gw.proc, "refusing the invalid file", (l) => l.level === "error" && stringsIn(l).some((s) => s.includes("rate_limit.global.burst")))
      assert.isUndefined(accessLineOf(gw.proc, "level-error-1"), "no info line at level error")

      yield* gw.reloadWith(yamlOf(reloadDoc(gw.port, backend.url, { logging: { level: "debug" } })))
      yield* awaitReloads(gw.base, "success", 2)
      yield* request("level-debug-1")
      const line = yield* accessLogged("level-debug-1")
      assert.strictEqual(line.level, "info")
      assert.strictEqual(line.status, 200)
    }), processTimeout)
})
