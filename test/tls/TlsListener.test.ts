// tls.* (SPEC §2, the seed's section 13) on the in-process gateway: HTTPS with a
// certificate made by openssl, X-Forwarded-Proto https upstream, tls.min_version, and
// plain HTTP sent to the TLS port.
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Backend, startBackend } from "../support/HttpBackend.js"
import { gatewayPort, rawExchange, rawRequest, realTime } from "../support/HttpClient.js"
import { makeTestGateway } from "../support/TestGateway.js"
import { type CertificatePair, certificateDir, handshake, httpsRequest, makeCertificate } from "../support/TlsCertificates.js"

class TlsSetup extends Context.Tag("test/TlsSetup")<TlsSetup, { readonly pair: CertificatePair; readonly backend: Backend }>() {}

/** A certificate, a recording backend for market_data, then the gateway serving HTTPS with them. */
const tlsGateway = (minVersion: "1.2" | "1.3") =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const pair = yield* makeCertificate(yield* certificateDir, "gateway")
      const backend = yield* startBackend()
      return makeTestGateway({
        tls: { enabled: true, cert_file: pair.certFile, key_file: pair.keyFile, min_version: minVersion },
        services: { market_data: { url: backend.url, max_retries: 0 } }
      }).pipe(Layer.merge(Layer.succeed(TlsSetup, { pair, backend })))
    })
  )

const https = (path: string, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const { pair } = yield* TlsSetup
    return yield* httpsRequest(yield* gatewayPort, path, { ca: pair.cert, headers })
  })

describe("TlsListener", () => {
  layer(tlsGateway("1.2"), realTime)("min_version 1.2", (it) => {
    it.effect("answers /health/liveness over HTTPS with the configured certificate", () =>
      Effect.gen(function* () {
        const res = yield* https("/health/liveness")
        assert.strictEqual(res.status, 200)
        assert.deepStrictEqual(JSON.parse(res.body), { status: "alive" })
        assert.isString(res.headers["x-request-id"])
      }))

    it.effect("proxies a route over HTTPS with X-Forwarded-Proto https at the backend", () =>
      Effect.gen(function* () {
        const { backend } = yield* TlsSetup
        const res = yield* https("/api/v1/market-data/symbols?limit=2")
        assert.strictEqual(res.status, 200, res.body)
        assert.deepStrictEqual(JSON.parse(res.body), { ok: true })
        const seen = backend.requests.at(-1)
        assert.strictEqual(seen?.url, "/api/v1/market-data/symbols?limit=2")
        assert.strictEqual(seen?.headers["x-forwarded-proto"], "https")
      }))

    it.effect("accepts a client limited to TLS 1.2", () =>
      Effect.gen(function* () {
        const hs = yield* handshake(yield* gatewayPort, { maxVersion: "TLSv1.2" })
        assert.deepStrictEqual(hs, { _tag: "Connected", protocol: "TLSv1.2" })
      }))

    it.effect("plain HTTP sent to the TLS port gets no HTTP answer, and HTTPS keeps working", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        for (let i = 0; i < 3; i++) {
          const plain = yield* rawExchange(port, rawRequest("GET /health/liveness HTTP/1.1"), { timeoutMs: 2_000 })
          assert.notStrictEqual(plain.status, 200, `plain HTTP was served: ${plain.raw}`)
          assert.isFalse(plain.timedOut, "the connection is closed, not left hanging")
        }
        const res = yield* https("/health/liveness")
        assert.strictEqual(res.status, 200)
        const proxied = yield* https("/api/v1/market-data/symbols")
        assert.strictEqual(proxied.status, 200)
      }))
  })

  layer(tlsGateway("1.3"), realTime)("min_version 1.3", (it) => {
    it.effect("refuses a client limited to TLS 1.2", () =>
      Effect.gen(function* () {
        const hs = yield* handshake(yield* gatewayPort, { maxVersion: "TLSv1.2" })
        assert.strictEqual(hs._tag, "Refused")
      }))

    it.effect("serves a TLS 1.3 client, and keeps serving after the refused one", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        yield* handshake(port, { maxVersion: "TLSv1.2" })
        const hs = yield* handshake(port, { minVersion: "TLSv1.3" })
        assert.deepStrictEqual(hs, { _tag: "Connected", protocol: "TLSv1.3" })
        const res = yield* https("/health/liveness")
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.protocol, "TLSv1.3")
      }))
  })
})
