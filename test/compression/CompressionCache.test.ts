// features.enable_compression with a cache rule (SPEC §4 Cache and Proxying): entries are
// stored uncompressed, so each hit is encoded (or not) for the client asking for it.
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { bodyOf, compressionHandler, decodedBody, fetchRaw, type Shape, shapeQuery, varyOf } from "../support/CompressionBackend.js"
import { backendNamed, gatewayWithBackends } from "../support/HttpBackend.js"
import { realTime } from "../support/HttpClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

const ticker = "/api/v1/market-data/ticker"

const gateway = gatewayWithBackends({ data: compressionHandler }, (b) => ({
  services: { market_data: { url: b.data.url, max_retries: 0 } },
  features: { enable_compression: true },
  cache: { enabled: true, rules: { [ticker]: { ttl: "30s" } } }
}))

const fetchCached = (symbol: string, shape: Shape, acceptEncoding: string | undefined) =>
  Effect.flatMap(gatewayUrl, (base) =>
    fetchRaw(`${base}${ticker}/${symbol}?${shapeQuery(shape)}`, {
      headers: acceptEncoding === undefined ? {} : { "accept-encoding": acceptEncoding }
    }))

const hitsOf = (symbol: string) => Effect.map(backendNamed("data"), (b) => b.hits(`${ticker}/${symbol}`))

describe("CompressionCache", () => {
  layer(gateway, realTime)((it) => {
    it.effect("gzip MISS, then an identity HIT served uncompressed, then a br HIT compressed from the cache", () =>
      Effect.gen(function* () {
        const shape: Shape = { size: 4_096, type: "application/json" }
        const expected = bodyOf(4_096)

        const first = yield* fetchCached("BTC", shape, "gzip")
        assert.strictEqual(first.status, 200)
        assert.strictEqual(first.headers["x-cache"], "MISS")
        assert.strictEqual(first.headers["content-encoding"], "gzip")
        assert.isTrue(decodedBody(first).equals(expected))

        const second = yield* fetchCached("BTC", shape, "identity")
        assert.strictEqual(second.status, 200)
        assert.strictEqual(second.headers["x-cache"], "HIT", "the same entry, whatever the Accept-Encoding")
        assert.isUndefined(second.headers["content-encoding"], "the stored entry is not compressed")
        assert.isTrue(second.body.equals(expected), "the backend's bytes")
        assert.strictEqual(second.headers["content-length"], "4096")
        assert.include(varyOf(second), "accept-encoding")

        const third = yield* fetchCached("BTC", shape, "br, gzip")
        assert.strictEqual(third.headers["x-cache"], "HIT")
        assert.strictEqual(third.headers["content-encoding"], "br")
        assert.isTrue(decodedBody(third).equals(expected), "compressed from the cache")
        assert.include(varyOf(third), "accept-encoding")

        const fourth = yield* fetchCached("BTC", shape, undefined)
        assert.strictEqual(fourth.headers["x-cache"], "HIT")
        assert.isUndefined(fourth.headers["content-encoding"])
        assert.isTrue(fourth.body.equals(expected))

        assert.strictEqual(yield* hitsOf("BTC"), 1, "one backend request for all four")
      }))

    it.effect("a br MISS of a chunked body is stored uncompressed: a gzip HIT decodes to the same bytes", () =>
      Effect.gen(function* () {
        const shape: Shape = { size: 8_192, type: "application/json", chunked: true }
        const first = yield* fetchCached("ETH", shape, "br")
        assert.strictEqual(first.headers["x-cache"], "MISS")
        assert.strictEqual(first.headers["content-encoding"], "br")
        assert.isTrue(decodedBody(first).equals(bodyOf(8_192)))
        const second = yield* fetchCached("ETH", shape, "gzip")
        assert.strictEqual(second.headers["x-cache"], "HIT")
        assert.strictEqual(second.headers["content-encoding"], "gzip")
        assert.isTrue(decodedBody(second).equals(bodyOf(8_192)))
        const third = yield* fetchCached("ETH", shape, undefined)
        assert.strictEqual(third.headers["x-cache"], "HIT")
        assert.isUndefined(third.headers["content-encoding"])
        assert.isTrue(third.body.equals(bodyOf(8_192)))
        assert.strictEqual(yield* hitsOf("ETH"), 1)
      }))

    it.effect("a small entry is served as stored to a client accepting br", () =>
      Effect.gen(function* () {
        const shape: Shape = { size: 600, type: "application/json" }
        yield* fetchCached("SOL", shape, "br")
        const hit = yield* fetchCached("SOL", shape, "br")
        assert.strictEqual(hit.headers["x-cache"], "HIT")
        assert.isUndefined(hit.headers["content-encoding"])
        assert.isTrue(hit.body.equals(bodyOf(600)))
      }))
  })
})
