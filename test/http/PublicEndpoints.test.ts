import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { gatewayUrl, makeTestGateway } from "../support/TestGateway.js"

const get = (url: string, init?: RequestInit) => Effect.promise(() => fetch(url, init))
const json = (res: Response) => Effect.promise(() => res.json() as Promise<Record<string, unknown>>)

describe("PublicEndpoints", () => {
  it.layer(makeTestGateway())((it) => {
    it.effect("liveness answers alive with a request id", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const res = yield* get(`${base}/health/liveness`)
        assert.strictEqual(res.status, 200)
        assert.deepStrictEqual(yield* json(res), { status: "alive" })
        assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/)
      }))

    it.effect("readiness is ready while nothing is open", () =>
      Effect.gen(function* () {
        const res = yield* get(`${yield* gatewayUrl}/health/readiness`)
        assert.strictEqual(res.status, 200)
        assert.deepStrictEqual(yield* json(res), { status: "ready" })
      }))

    it.effect("version names the service and its package version", () =>
      Effect.gen(function* () {
        const body = yield* json(yield* get(`${yield* gatewayUrl}/version`))
        assert.strictEqual(body.service, "api-gateway")
        assert.strictEqual(body.version, "1.0.0")
        assert.isString(body.build_time)
        assert.isString(body.git_commit)
      }))
  })
})
