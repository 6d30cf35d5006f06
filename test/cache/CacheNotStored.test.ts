// SPEC §4 Cache: what is never stored. Responses the backend marks no-store or private,
// with Set-Cookie or Vary: *, other statuses than 200, bodies over 1 MiB; requests other
// than GET; paths outside every rule. Each is fetched twice: both reach the backend.
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { cacheHandler, cacheServices, fetchPath, oneMiB, serialOf, xCache } from "../support/CacheBackend.js"
import { backendNamed, gatewayWithBackends } from "../support/HttpBackend.js"
import { type Reply, realTime } from "../support/HttpClient.js"
import { merge } from "../support/TestConfig.js"

const market = "/api/v1/market-data"

const gateway = gatewayWithBackends({ market: cacheHandler(), account: cacheHandler() }, (b) =>
  merge(cacheServices(b.market, b.account), {
    cache: { rules: { [market]: { ttl: "30s" }, "/api/v1/orders": { ttl: "30s" } } }
  }))

const hitsOf = (path: string) => Effect.map(backendNamed("market"), (b) => b.hits(path))

/** Two GETs of `path`: both answered `status` by the backend, MISS both times. */
const neverStored = (path: string, status: number) =>
  Effect.gen(function* () {
    const replies: Array<Reply> = []
    for (let i = 0; i < 2; i++) {
      const reply = yield* fetchPath(path)
      assert.strictEqual(reply.status, status, path)
      assert.strictEqual(xCache(reply), "MISS", `${path}: a route under a rule says MISS`)
      replies.push(reply)
    }
    assert.strictEqual(yield* hitsOf(path), 2, `${path}: both reached the backend`)
    assert.notStrictEqual(serialOf(replies[1]!), serialOf(replies[0]!))
    return replies
  })

describe("CacheNotStored", () => {
  layer(gateway, realTime)((it) => {
    it.effect("Cache-Control: no-store is not stored", () => neverStored(`${market}/ticker/no-store`, 200))

    it.effect("Cache-Control: private is not stored", () => neverStored(`${market}/ticker/private`, 200))

    it.effect("a response with Set-Cookie is not stored, and its cookie is not served to anyone else", () =>
      Effect.gen(function* () {
        const [first] = yield* neverStored(`${market}/ticker/cookie`, 200)
        assert.include(first!.headers.get("set-cookie") ?? "", "session=s3cr3t", "passed through to its own caller")
      }))

    it.effect("a 404 from the backend is not stored", () => neverStored(`${market}/ticker/not-found`, 404))

    it.effect("a 500 from the backend is not stored", () => neverStored(`${market}/ticker/error`, 500))

    it.effect("Vary: * is not stored", () => neverStored(`${market}/ticker/vary-star`, 200))

    it.effect("a body over 1 MiB with a Content-Length is not stored", () =>
      Effect.gen(function* () {
        const [first] = yield* neverStored(`${market}/ticker/big`, 200)
        assert.strictEqual(first!.text.length, oneMiB + 1, "passed through whole")
      }))

    it.effect("a chunked body that grows over 1 MiB is not stored", () =>
      Effect.gen(function* () {
        const [first] = yield* neverStored(`${market}/ticker/big-chunked`, 200)
        assert.strictEqual(first!.text.length, oneMiB + 1, "passed through whole")
      }))

    it.effect("a body of exactly 1 MiB is stored", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/exact`
        const first = yield* fetchPath(path)
        assert.strictEqual(xCache(first), "MISS")
        const second = yield* fetchPath(path)
        assert.strictEqual(xCache(second), "HIT")
        assert.strictEqual(second.text.length, oneMiB)
        assert.strictEqual(second.text, first.text)
        assert.strictEqual(yield* hitsOf(path), 1)
      }))

    it.effect("POST under a rule is neither served from nor stored in the cache", () =>
      Effect.gen(function* () {
        const path = "/api/v1/orders"
        const post = { method: "POST", body: "{\"symbol\":\"BTC\"}" }
        for (let i = 0; i < 2; i++) {
          const reply = yield* fetchPath(path, { "content-type": "application/json" }, post)
          assert.strictEqual(reply.status, 200)
          assert.isNull(xCache(reply), "no X-Cache on a POST")
        }
        assert.strictEqual(xCache(yield* fetchPath(path)), "MISS", "the POSTs left no entry for a GET")
        assert.strictEqual(xCache(yield* fetchPath(path)), "HIT")
        const third = yield* fetchPath(path, { "content-type": "application/json" }, post)
        assert.isNull(xCache(third), "a stored GET is not served to a POST")
        const methods = (yield* backendNamed("market")).requests.filter((r) => r.url === path).map((r) => r.method)
        assert.deepStrictEqual(methods, ["POST", "POST", "GET", "POST"])
      }))

    it.effect("HEAD under a rule is neither served from nor stored in the cache", () =>
      Effect.gen(function* () {
        const path = `${market}/ticker/HEAD`
        const head = yield* fetchPath(path, {}, { method: "HEAD" })
        assert.strictEqual(head.status, 200)
        assert.isNull(xCache(head))
        assert.strictEqual(xCache(yield* fetchPath(path)), "MISS", "the HEAD left no entry")
        assert.strictEqual(xCache(yield* fetchPath(path)), "HIT")
        const again = yield* fetchPath(path, {}, { method: "HEAD" })
        assert.strictEqual(again.status, 200)
        assert.isNull(xCache(again), "a stored GET is not served to a HEAD")
        const methods = (yield* backendNamed("market")).requests.filter((r) => r.url === path).map((r) => r.method)
        assert.deepStrictEqual(methods, ["HEAD", "GET", "HEAD"])
      }))

    it.effect("a GET outside every rule is not cached and has no X-Cache header", () =>
      Effect.gen(function* () {
        const path = "/api/v1/dashboard/status"
        for (let i = 0; i < 2; i++) {
          const reply = yield* fetchPath(path)
          assert.strictEqual(reply.status, 200)
          assert.isNull(xCache(reply))
          assert.isNull(reply.headers.get("age"))
        }
        assert.strictEqual(yield* hitsOf(path), 2)
      }))

    it.effect("an unmatched path under a rule prefix is the gateway's 404, without X-Cache", () =>
      Effect.gen(function* () {
        const reply = yield* fetchPath(`${market}/nothing/here/at/all`)
        assert.strictEqual(reply.status, 404)
        assert.strictEqual(reply.json?.error, "Not found")
        assert.isNull(xCache(reply))
      }))
  })

  describe("cache.enabled: false", () => {
    layer(
      gatewayWithBackends({ market: cacheHandler(), account: cacheHandler() }, (b) =>
        merge(cacheServices(b.market, b.account), { cache: { enabled: false, rules: { [market]: { ttl: "30s" } } } })),
      realTime
    )((it) => {
      it.effect("rules are ignored: no X-Cache, every GET reaches the backend", () =>
        Effect.gen(function* () {
          const path = `${market}/symbols`
          for (let i = 0; i < 2; i++) {
            const reply = yield* fetchPath(path)
            assert.strictEqual(reply.status, 200)
            assert.isNull(xCache(reply))
          }
          assert.strictEqual(yield* hitsOf(path), 2)
        }))
    })
  })
})
