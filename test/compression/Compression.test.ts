// SPEC §4 Proxying, features.enable_compression: gzip or brotli as the client accepts, for
// compressible types over 1 KiB or of unknown length that the backend did not encode,
// with Vary: Accept-Encoding; nothing at all when the feature is off.
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  bodyOf, compressionHandler, decodedBody, fetchRaw, type Shape, shapeQuery, varyOf, wireBodyOf
} from "../support/CompressionBackend.js"
import { backendNamed, gatewayWithBackends } from "../support/HttpBackend.js"
import { realTime } from "../support/HttpClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

const gatewayWith = (enabled: boolean) =>
  gatewayWithBackends({ data: compressionHandler }, (b) => ({
    services: { market_data: { url: b.data.url, max_retries: 0 } },
    features: { enable_compression: enabled }
  }))

/** A GET (or `method`) of /api/v1/market-data/ticker/<symbol> answered with `shape`. */
const fetchShape = (symbol: string, shape: Shape, acceptEncoding: string | undefined, method = "GET") =>
  Effect.flatMap(gatewayUrl, (base) =>
    fetchRaw(`${base}/api/v1/market-data/ticker/${symbol}?${shapeQuery(shape)}`, {
      method,
      headers: acceptEncoding === undefined ? {} : { "accept-encoding": acceptEncoding }
    }))

const json4k: Shape = { size: 4_096, type: "application/json" }

describe("Compression", () => {
  layer(gatewayWith(true), realTime)("enable_compression: true", (it) => {
    it.effect("Accept-Encoding `br, gzip` gets brotli that decodes to the backend's bytes, with Vary", () =>
      Effect.gen(function* () {
        const res = yield* fetchShape("BR", json4k, "br, gzip")
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.headers["content-encoding"], "br")
        assert.isTrue(res.body.length < 4_096, `compressed: ${res.body.length} bytes`)
        assert.isTrue(decodedBody(res).equals(bodyOf(4_096)), "brotliDecompressSync gives the backend's body")
        assert.include(varyOf(res), "accept-encoding")
        assert.strictEqual(res.headers["content-type"], "application/json")
        if (res.headers["content-length"] !== undefined) {
          assert.strictEqual(Number(res.headers["content-length"]), res.body.length, "a Content-Length, if any, is the encoded one")
        }
      }))

    it.effect("Accept-Encoding `gzip` gets gzip", () =>
      Effect.gen(function* () {
        const res = yield* fetchShape("GZ", json4k, "gzip")
        assert.strictEqual(res.headers["content-encoding"], "gzip")
        assert.isTrue(decodedBody(res).equals(bodyOf(4_096)))
        assert.include(varyOf(res), "accept-encoding")
      }))

    it.effect("`identity` or no Accept-Encoding: the backend's bytes, not encoded, with Vary", () =>
      Effect.gen(function* () {
        for (const accept of ["identity", undefined]) {
          const res = yield* fetchShape("ID", json4k, accept)
          assert.strictEqual(res.status, 200)
          assert.isUndefined(res.headers["content-encoding"], `Accept-Encoding ${accept ?? "(none)"}`)
          assert.isTrue(res.body.equals(bodyOf(4_096)))
          assert.include(varyOf(res), "accept-encoding", "the answer depended on Accept-Encoding")
        }
      }))

    it.effect("q=0 is honoured: `br;q=0, gzip` gets gzip, `gzip;q=0` gets nothing encoded", () =>
      Effect.gen(function* () {
        const gzip = yield* fetchShape("Q0", json4k, "br;q=0, gzip")
        assert.strictEqual(gzip.headers["content-encoding"], "gzip")
        assert.isTrue(decodedBody(gzip).equals(bodyOf(4_096)))
        const none = yield* fetchShape("Q0", json4k, "gzip;q=0")
        assert.isUndefined(none.headers["content-encoding"])
        assert.isTrue(none.body.equals(bodyOf(4_096)))
        const weighted = yield* fetchShape("Q0", json4k, "gzip;q=1.0, br;q=0.5")
        assert.include(["gzip", "br"], weighted.headers["content-encoding"], "either accepted encoding")
      }))

    it.effect("a 500-byte JSON body is sent as is", () =>
      Effect.gen(function* () {
        const res = yield* fetchShape("SMALL", { size: 500, type: "application/json" }, "br, gzip")
        assert.isUndefined(res.headers["content-encoding"])
        assert.isTrue(res.body.equals(bodyOf(500)))
        assert.strictEqual(res.headers["content-length"], "500")
      }))

    it.effect("every compressible type over 1 KiB is compressed", () =>
      Effect.gen(function* () {
        const types = [
          "application/json; charset=utf-8", "application/problem+json", "text/plain", "text/html; charset=utf-8",
          "application/javascript", "application/xml", "image/svg+xml"
        ]
        for (const type of types) {
          const res = yield* fetchShape("TYPES", { size: 2_048, type }, "gzip")
          assert.strictEqual(res.headers["content-encoding"], "gzip", type)
          assert.isTrue(decodedBody(res).equals(bodyOf(2_048)), type)
        }
      }))

    it.effect("image/png and application/octet-stream are not compressed", () =>
      Effect.gen(function* () {
        for (const type of ["image/png", "application/octet-stream"]) {
          const res = yield* fetchShape("PNG", { size: 4_096, type }, "br, gzip")
          assert.isUndefined(res.headers["content-encoding"], type)
          assert.isTrue(res.body.equals(bodyOf(4_096)), type)
          assert.strictEqual(res.headers["content-length"], "4096", type)
        }
      }))

    it.effect("a body the backend already gzip-encoded is passed through untouched", () =>
      Effect.gen(function* () {
        const shape: Shape = { ...json4k, gzipped: true }
        for (const accept of ["br, gzip", "br"]) {
          const res = yield* fetchShape("PRE", shape, accept)
          assert.strictEqual(res.headers["content-encoding"], "gzip", accept)
          assert.isTrue(res.body.equals(wireBodyOf(shape)), "the backend's encoded bytes, not encoded twice")
          assert.strictEqual(res.headers["content-length"], String(wireBodyOf(shape).length))
        }
      }))

    it.effect("JSON of unknown length (chunked) is compressed, small or large", () =>
      Effect.gen(function* () {
        for (const size of [8_192, 300]) {
          const res = yield* fetchShape("CHUNKED", { size, type: "application/json", chunked: true }, "br, gzip")
          assert.strictEqual(res.headers["content-encoding"], "br", `${size} bytes of unknown length`)
          assert.isTrue(decodedBody(res).equals(bodyOf(size)))
          assert.include(varyOf(res), "accept-encoding")
        }
      }))

    it.effect("HEAD is not compressed", () =>
      Effect.gen(function* () {
        const res = yield* fetchShape("HEAD", json4k, "br, gzip", "HEAD")
        assert.strictEqual(res.status, 200)
        assert.isUndefined(res.headers["content-encoding"])
        assert.strictEqual(res.body.length, 0)
        if (res.headers["content-length"] !== undefined) assert.strictEqual(res.headers["content-length"], "4096", "the unencoded length")
        const backend = yield* backendNamed("data")
        assert.strictEqual(backend.requests.at(-1)?.method, "HEAD")
      }))
  })

  layer(gatewayWith(false), realTime)("enable_compression: false", (it) => {
    it.effect("nothing is compressed, whatever the client accepts", () =>
      Effect.gen(function* () {
        const shapes: ReadonlyArray<Shape> = [json4k, { size: 8_192, type: "text/plain" }, { size: 8_192, type: "application/json", chunked: true }]
        for (const shape of shapes) {
          const res = yield* fetchShape("OFF", shape, "br, gzip")
          assert.strictEqual(res.status, 200)
          assert.isUndefined(res.headers["content-encoding"], shapeQuery(shape))
          assert.isTrue(res.body.equals(wireBodyOf(shape)), shapeQuery(shape))
        }
      }))
  })
})
