// Issue #11 §6: `gatewayctl` (dist/gatewayctl.js) against a running gateway: readable
// tables, --json, actions, and exit codes (0 done, 1 refused or unreachable, 2 bad args).
// `npm test` builds dist/ first; run `npm run build` before running this file alone.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { RouteView, ServiceView } from "../../src/services/AdminStats.js"
import { adminDoc, adminJwt, adminUrl } from "../support/AdminGateway.js"
import { runGatewayctl } from "../support/AdminProcess.js"
import { apiKeys } from "../support/AuthTokens.js"
import { freePort } from "../support/HttpBackend.js"
import { realTime, send } from "../support/HttpClient.js"
import { gatewayAfter, json, type ProxyBackend, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { gatewayUrl } from "../support/TestGateway.js"

class Fixture extends Context.Tag("test/Gatewayctl/Backends")<Fixture, { readonly failing: ProxyBackend }>() {}

const Gateway = gatewayAfter(
  Fixture,
  Effect.map(startProxyBackend((_req, res) => json(res, 502, { error: "down" })), (failing) => ({ failing })),
  (b) =>
    adminDoc({
      services: { risk_manager: serviceAt(b.failing.url, { max_retries: 0 }) },
      circuit_breaker: { min_requests: 2, failure_ratio: 0.5, timeout: "60s", interval: "60s" },
      cache: { enabled: true, rules: { "/api/v1/market-data": { ttl: "60s" } } }
    })
)

/** gatewayctl with --url of this layer's admin listener and the admin key. */
const ctl = (...args: Array<string>) =>
  Effect.flatMap(adminUrl, (url) => runGatewayctl([...args, "--url", url, "--key", apiKeys.admin]))

const assertExit = (r: { code: number | null; stderr: string; stdout: string }, code: number, what: string) =>
  assert.strictEqual(r.code, code, `${what}: exit code; stderr: ${r.stderr}; stdout: ${r.stdout.slice(0, 300)}`)

describe("Gatewayctl", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("status prints the services table, the cache and the rate limits", () =>
      Effect.gen(function* () {
        const r = yield* ctl("status")
        assertExit(r, 0, "status")
        const lines = r.stdout.split("\n")
        assert.match(lines[0]!, /^api-gateway \S+ \(.*\), up \d+ min, config \S+ loaded /)
        assert.match(r.stdout, /^SERVICE +BREAKER +REQ\/S +ERRORS +P50 MS +P99 MS +URL$/m)
        assert.match(r.stdout, /^market_data +closed +0\.00 +0\.0% +– +– +http:\/\/localhost:8080$/m)
        assert.match(r.stdout, /^cache: memory, 0 entries, hit ratio – \(0 hits, 0 misses\)$/m)
        assert.match(r.stdout, /^rate limits: memory \(disabled\), 0 refused \(global 0, ip 0, endpoint 0\)$/m)
      }))

    it.effect("routes prints one aligned line per route; --json prints what GET /admin/routes answers", () =>
      Effect.gen(function* () {
        const table = yield* ctl("routes")
        assertExit(table, 0, "routes")
        const lines = table.stdout.trimEnd().split("\n")
        assert.match(lines[0]!, /^METHOD +PATH +SERVICE +ROLE$/)
        assert.include(lines, "DELETE  /api/v1/strategies/:id                 strategy_engine   admin")
        const asJson = yield* ctl("routes", "--json")
        assertExit(asJson, 0, "routes --json")
        const routes = JSON.parse(asJson.stdout) as Array<RouteView>
        assert.strictEqual(lines.length, routes.length + 1, "a header and one line per route")
        const direct = yield* Effect.flatMap(adminUrl, (url) => send(`${url}/admin/routes`, { headers: { "x-api-key": apiKeys.admin } }))
        assert.deepStrictEqual(routes, JSON.parse(direct.text))
      }))

    it.effect("breakers shows an open breaker; reset-breaker closes it", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        for (let i = 0; i < 2; i++) yield* send(`${base}/api/v1/risk/status`, { headers: { "x-api-key": apiKeys.operator } })
        const open = yield* ctl("breakers")
        assertExit(open, 0, "breakers")
        assert.match(open.stdout, /^SERVICE +STATE +REQUESTS +FAILURES +CONSECUTIVE +LAST TRANSITION$/m)
        assert.match(open.stdout, /^risk_manager +open +0 +0 +0 +closed -> open at \d{4}-\d\d-\d\dT/m)
        const reset = yield* ctl("reset-breaker", "risk_manager")
        assertExit(reset, 0, "reset-breaker")
        assert.strictEqual(reset.stdout, "risk_manager: breaker closed (was open)\n")
        const after = yield* ctl("breakers", "--json")
        assertExit(after, 0, "breakers --json")
        const risk = (JSON.parse(after.stdout) as Array<ServiceView>).find((s) => s.name === "risk_manager")!
        assert.strictEqual(risk.breaker.state, "closed")
        assert.deepStrictEqual(risk.breaker.last_transition?.to, "closed")
      }))

    it.effect("purge and reload print their outcome; a refusal exits 1 with the gateway's answer", () =>
      Effect.gen(function* () {
        const purged = yield* ctl("purge", "/api/v1/market-data")
        assertExit(purged, 0, "purge")
        assert.strictEqual(purged.stdout, "/api/v1/market-data: 0 cached entries dropped\n")
        const reload = yield* ctl("reload")
        assertExit(reload, 1, "reload of a literal config")
        assert.match(reload.stderr, /^gatewayctl: the gateway answered 422 Config reload refused\n {2}a literal test config has no file to reload\n$/)
        const reloadJson = yield* ctl("reload", "--json")
        assertExit(reloadJson, 1, "reload --json")
        assert.strictEqual((JSON.parse(reloadJson.stdout) as { result: string }).result, "failure")
        const unknown = yield* ctl("reset-breaker", "nope")
        assertExit(unknown, 1, "unknown service")
        assert.include(unknown.stderr, "404 Not found: no service named nope")
      }))

    it.effect("takes a JWT, or the key and URL from the environment; a wrong key or no gateway exits 1", () =>
      Effect.gen(function* () {
        const url = yield* adminUrl
        const token = (yield* adminJwt).authorization!.slice("Bearer ".length)
        assertExit(yield* runGatewayctl(["breakers", "--url", url, "--token", token]), 0, "--token")
        assertExit(yield* runGatewayctl(["breakers"], { GATEWAYCTL_URL: url, GATEWAYCTL_KEY: apiKeys.admin }), 0, "environment")
        const viewer = yield* runGatewayctl(["breakers", "--url", url, "--key", apiKeys.viewer])
        assertExit(viewer, 1, "a viewer's key")
        assert.include(viewer.stderr, "403 Insufficient permissions")
        const nobody = yield* runGatewayctl(["status", "--url", `http://127.0.0.1:${yield* freePort}`, "--key", apiKeys.admin])
        assertExit(nobody, 1, "nothing listening")
        assert.include(nobody.stderr, "cannot reach the admin listener")
      }))

    it.effect("bad arguments exit 2 with the usage", () =>
      Effect.gen(function* () {
        const url = yield* adminUrl
        const cases: ReadonlyArray<[ReadonlyArray<string>, RegExp]> = [
          [[], /a command is required/],
          [["frobnicate"], /unknown command "frobnicate"/],
          [["reset-breaker"], /reset-breaker takes one argument, got 0/],
          [["status", "extra"], /status takes no argument, got 1/],
          [["purge", "api/v1"], /PREFIX must be a cache rule path/],
          [["status", "--verbose"], /Unknown option '--verbose'/],
          [["status", "--url", "ftp://x"], /--url must be http/]
        ]
        for (const [args, message] of cases) {
          const r = yield* runGatewayctl([...args, ...(args.includes("--url") ? [] : ["--url", url]), "--key", apiKeys.admin])
          assertExit(r, 2, args.join(" ") || "(none)")
          assert.match(r.stderr, message)
          assert.include(r.stderr, "Usage: npm run gatewayctl --")
          assert.strictEqual(r.stdout, "")
        }
        const keyless = yield* runGatewayctl(["status", "--url", url])
        assertExit(keyless, 2, "no key")
        assert.include(keyless.stderr, "an admin API key (--key) or JWT (--token) is required")
      }))
  })
})
