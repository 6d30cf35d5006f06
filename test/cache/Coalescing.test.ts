// SPEC §4 Cache: "concurrent misses for one key make one upstream request". 50 clients ask
// at once while the backend takes ~300 ms: one request reaches it, and all 50 get its
// answer, error statuses included; misses of different callers are never merged.
// The backend's answer is also held at a gate until the gateway has counted every miss,
// so the 50 are concurrent however slowly a loaded machine delivers them.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { alice, bob, cacheAuth, cacheHandler, cacheServices, fetchPath, Gate, metric, xCache } from "../support/CacheBackend.js"
import { backendNamed, gatewayWithBackends } from "../support/HttpBackend.js"
import { eventually, type Reply, realTime } from "../support/HttpClient.js"
import { merge } from "../support/TestConfig.js"
import { gatewayUrl } from "../support/TestGateway.js"

const market = "/api/v1/market-data"
const balance = "/api/v1/account/balance"

class BackendGate extends Context.Tag("test/CoalescingGate")<BackendGate, Gate>() {}

const gateway = Layer.unwrapEffect(Effect.sync(() => {
  const gate = new Gate()
  return gatewayWithBackends({ market: cacheHandler(300, gate), account: cacheHandler(300, gate) }, (b, closedUrl) =>
    merge(cacheServices(b.market, b.account, { services: { dashboard_server: { url: closedUrl, max_retries: 0 } } }), {
      auth: cacheAuth,
      cache: { rules: { [market]: { ttl: "30s" }, [balance]: { ttl: "30s" }, "/api/v1/dashboard": { ttl: "30s" } } }
    })).pipe(Layer.merge(Layer.succeed(BackendGate, gate)))
}))

const hitsOf = (backend: "market" | "account", path: string) => Effect.map(backendNamed(backend), (b) => b.hits(path))

const misses = (rule: string) => metric("api_gateway_cache_misses_total", { endpoint: rule })

/**
 * `n` concurrent GETs of `path`, the i-th with `headersOf(i)`; the backend's answers wait
 * until the gateway has counted all `n` misses of `rule`.
 */
const concurrently = (n: number, path: string, rule: string, headersOf: (i: number) => Record<string, string> = () => alice) =>
  Effect.gen(function* () {
    const gate = yield* BackendGate
    const before = yield* misses(rule)
    gate.close()
    const fiber = yield* Effect.fork(
      Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => fetchPath(path, headersOf(i)), { concurrency: "unbounded" })
    )
    yield* eventually(Effect.flatMap(misses(rule), (m) => Effect.sync(() => assert.strictEqual(m - before, n, "misses so far"))), {
      timeoutMs: 10_000,
      intervalMs: 20
    }).pipe(Effect.ensuring(Effect.sync(() => gate.open())))
    return yield* Fiber.join(fiber)
  })

const statusesOf = (replies: ReadonlyArray<Reply>) => [...new Set(replies.map((r) => r.status))]
const bodiesOf = (replies: ReadonlyArray<Reply>) => [...new Set(replies.map((r) => r.text))]

describe("Coalescing", () => {
  layer(gateway, realTime)((it) => {
    it.effect("50 concurrent misses for one key make one backend request; all 50 get its 200 and body", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/COALESCE`
        const replies = yield* concurrently(50, `${path}?gate=1`, market)
        assert.strictEqual(yield* hitsOf("market", path), 1, "one upstream request")
        assert.deepStrictEqual(statusesOf(replies), [200])
        assert.strictEqual(bodiesOf(replies).length, 1, "the same body for all")
        for (const r of replies) assert.include(["MISS", "HIT"], xCache(r))
        assert.isAtLeast(replies.filter((r) => xCache(r) === "MISS").length, 1, "the leader's answer is a MISS")
        assert.strictEqual(xCache(yield* fetchPath(`${path}?gate=1`, alice)), "HIT", "and it was stored")
      }))

    it.effect("when the one request gets a 500, all 50 get that 500", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/error`
        const replies = yield* concurrently(50, `${path}?gate=1`, market)
        assert.strictEqual(yield* hitsOf("market", path), 1, "one upstream request")
        assert.deepStrictEqual(statusesOf(replies), [500])
        assert.strictEqual(bodiesOf(replies).length, 1, "the backend's body, passed through to all")
        assert.strictEqual(replies[0]!.json?.error, "backend failed")
      }))

    it.effect("when the one request is reset by the backend, all 50 get 502", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/reset`
        const replies = yield* concurrently(50, `${path}?gate=1`, market)
        assert.strictEqual(yield* hitsOf("market", path), 1, "one upstream request")
        assert.deepStrictEqual(statusesOf(replies), [502])
        for (const r of replies) assert.strictEqual(r.json?.error, "Bad gateway")
      }))

    it.effect("when the backend's port is closed, all 50 get 502", () =>
      Effect.gen(function* () {
        const replies = yield* Effect.forEach(Array.from({ length: 50 }), () => fetchPath("/api/v1/dashboard/summary", alice), {
          concurrency: "unbounded"
        })
        assert.deepStrictEqual(statusesOf(replies), [502])
        for (const r of replies) assert.strictEqual(r.json?.error, "Bad gateway")
        assert.strictEqual(new Set(replies.map((r) => r.headers.get("x-request-id"))).size, 50, "each its own request id")
      }))

    it.effect("concurrent misses of different callers under a per-caller rule are not merged", () =>
      Effect.gen(function* () {
        const replies = yield* concurrently(40, `${balance}?gate=1`, balance, (i) => (i % 2 === 0 ? alice : bob))
        assert.strictEqual(yield* hitsOf("account", balance), 2, "one upstream request per caller")
        assert.deepStrictEqual(statusesOf(replies), [200])
        const ofAlice = replies.filter((_, i) => i % 2 === 0)
        const ofBob = replies.filter((_, i) => i % 2 === 1)
        for (const r of ofAlice) assert.strictEqual(r.json?.caller, "key:alice")
        for (const r of ofBob) assert.strictEqual(r.json?.caller, "key:bob")
        assert.strictEqual(bodiesOf(ofAlice).length, 1)
        assert.strictEqual(bodiesOf(ofBob).length, 1)
      }))

    it.effect("concurrent misses that differ in a header the response varies on each get their own variant", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/vary-lang`
        const replies = yield* concurrently(20, `${path}?gate=1`, market, (i) => ({ ...alice, "accept-language": i % 2 === 0 ? "en" : "fr" }))
        assert.deepStrictEqual(statusesOf(replies), [200])
        replies.forEach((r, i) => assert.strictEqual(r.json?.lang, i % 2 === 0 ? "en" : "fr", `reply ${i}`))
        assert.isAtMost(yield* hitsOf("market", path), 11, "the en misses were merged")
      }))

    it.effect("a leader whose client leaves neither fails its followers nor multiplies the upstream requests", () =>
      Effect.gen(function* () {
        const gate = yield* BackendGate
        const path = `${market}/ticker/LEADER-LEAVES`
        const url = `${yield* gatewayUrl}${path}?gate=1`
        const before = yield* misses(market)
        gate.close()
        const controller = new AbortController()
        const leader = yield* Effect.fork(Effect.promise(() =>
          fetch(url, { headers: alice, signal: controller.signal }).then((r) => r.text()).then(() => "answered", () => "aborted")))
        yield* eventually(Effect.flatMap(hitsOf("market", path), (n) => Effect.sync(() => assert.strictEqual(n, 1))), { timeoutMs: 5_000 })
        const followers = yield* Effect.fork(
          Effect.forEach(Array.from({ length: 10 }), () => fetchPath(`${path}?gate=1`, alice), { concurrency: "unbounded" })
        )
        yield* eventually(Effect.flatMap(misses(market), (m) => Effect.sync(() => assert.strictEqual(m - before, 11))), {
          timeoutMs: 10_000
        })
        controller.abort()
        assert.strictEqual(yield* Fiber.join(leader), "aborted")
        yield* Effect.sleep("100 millis") // the gateway sees the leader's client leave
        gate.open()
        const replies = yield* Fiber.join(followers)
        assert.deepStrictEqual(statusesOf(replies), [200], "the followers are answered")
        const upstream = yield* hitsOf("market", path)
        assert.isAtMost(upstream, 2, `the 10 waiting misses made ${upstream - 1} upstream requests after the leader left`)
      }).pipe(Effect.ensuring(Effect.flatMap(BackendGate, (gate) => Effect.sync(() => gate.open()))))
    )
  })
})
