// Issue #11 §4, end to end in headless Chromium: the page refuses to load without
// credentials, loads with the browser's own Basic prompt answered, refreshes by itself,
// shows a breaker open after its backend fails, and fetches nothing from elsewhere.
// A screenshot is saved to test/artifacts/admin-dashboard.png.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { adminDoc, adminUrl } from "../support/AdminGateway.js"
import { artifactPath, launchChromium, newContext } from "../support/AdminBrowser.js"
import { apiKeys } from "../support/AuthTokens.js"
import { realTime, send } from "../support/HttpClient.js"
import { gatewayAfter, json, type ProxyBackend, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { gatewayUrl } from "../support/TestGateway.js"

class Fixture extends Context.Tag("test/Dashboard/Backends")<Fixture, { readonly healthy: ProxyBackend; readonly failing: ProxyBackend }>() {}

const Gateway = gatewayAfter(
  Fixture,
  Effect.gen(function* () {
    return {
      healthy: yield* startProxyBackend((_req, res) => void setTimeout(() => json(res, 200, { ok: true }), 5)),
      failing: yield* startProxyBackend((_req, res) => json(res, 500, { error: "down" }))
    }
  }),
  (b) =>
    adminDoc({
      services: {
        market_data: serviceAt(b.failing.url, { max_retries: 0 }),
        account_monitor: serviceAt(b.healthy.url, { max_retries: 0 }),
        dashboard_server: serviceAt(b.healthy.url, { max_retries: 0 })
      },
      circuit_breaker: { min_requests: 3, failure_ratio: 0.6, timeout: "60s", interval: "60s" },
      cache: { enabled: true, rules: { "/api/v1/account": { ttl: "60s" } } },
      rate_limit: {
        enabled: true,
        per_ip: { requests_per_minute: 100_000, burst: 100_000 },
        endpoints: { "/api/v1/dashboard": { requests_per_second: 0.01, burst: 1 } }
      }
    })
)

const viaGateway = (path: string) =>
  Effect.flatMap(gatewayUrl, (base) => send(`${base}${path}`, { headers: { "x-api-key": apiKeys.viewer } }))

// the page's global, for a function that runs there: this project's TS has no DOM lib
declare const getComputedStyle: (el: unknown) => { readonly backgroundColor: string }
const backgroundOf = (el: unknown) => getComputedStyle(el).backgroundColor

/** A playwright promise as an Effect; its rejection fails the test with playwright's message. */
const browser = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => e as Error }).pipe(Effect.orDie)

describe("Dashboard", () => {
  layer(Gateway, realTime)((it) => {
    it.scoped("refuses to load without credentials, then shows services, cache and limits, and a breaker opening", () =>
      Effect.gen(function* () {
        const base = yield* adminUrl
        const chromium = yield* launchChromium
        const refusedPage = (password?: string) =>
          Effect.flatMap(newContext(chromium, password === undefined ? {} : { httpCredentials: { username: "ops", password } }), (c) =>
            browser(() => c.newPage()))

        // headless Chromium has no prompt to show: without credentials the navigation itself fails
        const anonymous = yield* refusedPage()
        const refused = yield* browser(() => anonymous.goto(`${base}/admin/`).then((r) => String(r?.status()), (e: Error) => e.message))
        assert.match(refused, /^401$|ERR_INVALID_AUTH_CREDENTIALS/)
        assert.strictEqual(yield* browser(() => anonymous.locator("#services").count()), 0, "no dashboard without credentials")
        const wrongKey = yield* refusedPage("not-the-admin-key")
        assert.strictEqual((yield* browser(() => wrongKey.goto(`${base}/admin/`)))?.status(), 401)
        assert.include(yield* browser(() => wrongKey.locator("body").innerText()), "Invalid API key")
        assert.strictEqual(yield* browser(() => wrongKey.locator("#services").count()), 0, "no dashboard with a wrong key")
        const viewer = yield* refusedPage(apiKeys.viewer)
        assert.strictEqual((yield* browser(() => viewer.goto(`${base}/admin/`)))?.status(), 403)
        assert.include(yield* browser(() => viewer.locator("body").innerText()), "Insufficient permissions")

        const context = yield* newContext(chromium, { httpCredentials: { username: "ops", password: apiKeys.admin } })
        const page = yield* browser(() => context.newPage())
        page.setDefaultTimeout(15_000)
        const problems: Array<string> = []
        page.on("console", (m) => void (m.type() === "error" && problems.push(`console: ${m.text()}`)))
        page.on("pageerror", (e) => void problems.push(`page error: ${e.message}`))
        const requested: Array<string> = []
        page.on("request", (r) => void requested.push(r.url()))


        // traffic for the cache and rate-limit cards
        assert.strictEqual((yield* viaGateway("/api/v1/account/balance")).headers.get("x-cache"), "MISS")
        assert.strictEqual((yield* viaGateway("/api/v1/account/balance")).headers.get("x-cache"), "HIT")
        yield* viaGateway("/api/v1/dashboard/status")
        assert.strictEqual((yield* viaGateway("/api/v1/dashboard/status")).status, 429)

        const loaded = yield* browser(() => page.goto(`${base}/admin/`))
        assert.strictEqual(loaded?.status(), 200)
        yield* browser(() => page.waitForSelector("tr[data-service=\"market_data\"][data-state=\"closed\"]"))
        assert.strictEqual(yield* browser(() => page.locator("#services-body tr").count()), 7)

        for (let i = 0; i < 3; i++) assert.strictEqual((yield* viaGateway("/api/v1/market-data/symbols")).status, 500)
        assert.strictEqual((yield* viaGateway("/api/v1/market-data/symbols")).status, 503, "the breaker is open")

        // no reload: the page's own refresh shows it
        const openRow = page.locator("tr[data-service=\"market_data\"][data-state=\"open\"]")
        yield* browser(() => openRow.waitFor())
        const badge = openRow.locator(".state")
        assert.strictEqual(yield* browser(() => badge.innerText()), "open")
        assert.strictEqual(yield* browser(() => badge.evaluate(backgroundOf)), "rgb(207, 34, 46)", "open is red")
        const closedBadge = page.locator("tr[data-service=\"account_monitor\"] .state")
        assert.strictEqual(yield* browser(() => closedBadge.evaluate(backgroundOf)), "rgb(26, 127, 55)", "closed is green")
        const cells = yield* browser(() => openRow.locator("td").allInnerTexts())
        assert.strictEqual(cells[3], "100.0 %", "the failing service's error rate")
        assert.match(cells[7]!, /^closed → open, \d+ s ago$/)

        const cache = yield* browser(() => page.locator("#cache").innerText())
        assert.match(cache, /hit ratio\s+50\.0 %/)
        const limits = yield* browser(() => page.locator("#limits").innerText())
        assert.match(limits, /rejections\s+1\b/)
        assert.include(yield* browser(() => page.locator("#ips-body").innerText()), "127.0.0.1")

        const shot = yield* artifactPath("admin-dashboard.png")
        yield* browser(() => page.screenshot({ path: shot, fullPage: true }))
        assert.deepStrictEqual(problems, [], "no script errors and nothing blocked by the CSP")
        assert.deepStrictEqual(requested.filter((url) => !url.startsWith(`${base}/`)), [], "no external assets: everything from the admin origin")
        assert.isAbove(requested.filter((url) => url === `${base}/admin/status`).length, 1, "the page refreshes by itself")
      }), 60_000)
  })
})
