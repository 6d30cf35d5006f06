import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { eventually, gatewayPort, rawExchange, realTime, send } from "../support/HttpClient.js"
import { parsePrometheus } from "../support/HttpPrometheus.js"
import { gatewayUrl } from "../support/TestGateway.js"
import { wsAuth, wsKeys } from "../support/WebSocketAuth.js"
import { gatewayWithWsBackend, WsBackendTag } from "../support/WebSocketBackend.js"
import { closedWith, connect, open, rawUpgrade, receive, sendText } from "../support/WebSocketClient.js"

const viewerKey = { "x-api-key": wsKeys.viewer }

const gauge = Effect.gen(function* () {
  const res = yield* send(`${yield* gatewayUrl}/metrics`)
  return parsePrometheus(res.text).get("api_gateway_websocket_connections")?.samples[0]?.value
})

const refusedStatus = (opened: { readonly _tag: string; readonly status?: number }) => (opened._tag === "Refused" ? opened.status : 101)

describe("WebSocketLimits", () => {
  layer(
    gatewayWithWsBackend((url) => ({ auth: wsAuth, services: { dashboard_server: { url } }, websocket: { max_connections: 2 } })),
    realTime
  )((it) => {
    it.scoped("refuses the upgrade over max_connections with 503 and Retry-After, and admits again once one closes", () =>
      Effect.gen(function* () {
        const backend = yield* WsBackendTag
        const first = yield* open({ headers: viewerKey })
        yield* open({ headers: viewerKey })
        const upgradesBefore = backend.upgrades.length
        const third = yield* connect({ headers: viewerKey })
        assert.strictEqual(third._tag, "Refused")
        if (third._tag !== "Refused") return
        assert.strictEqual(third.status, 503)
        assert.strictEqual(JSON.parse(third.body).error, "Service temporarily unavailable")
        assert.match(String(third.headers["retry-after"]), /^[1-9]\d*$/)
        assert.strictEqual(backend.upgrades.length, upgradesBefore, "a refused upgrade never reaches the backend")
        first.socket.close(1000)
        yield* closedWith(first)
        yield* eventually(Effect.flatMap(connect({ headers: viewerKey }), (o) => Effect.sync(() => assert.strictEqual(refusedStatus(o), 101))))
      }))

    it.scoped("moves api_gateway_websocket_connections up and down", () =>
      Effect.gen(function* () {
        yield* eventually(Effect.map(gauge, (v) => assert.strictEqual(v, 0)))
        const client = yield* open({ headers: viewerKey })
        yield* sendText(client, "x")
        yield* receive(client)
        assert.strictEqual(yield* gauge, 1)
        client.socket.close(1000)
        yield* closedWith(client)
        yield* eventually(Effect.map(gauge, (v) => assert.strictEqual(v, 0)))
      }))

    it.effect("answers a malformed upgrade with 400 and another protocol's upgrade with 426", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        const key = `X-API-Key: ${wsKeys.viewer}`
        const badKey = yield* rawExchange(port, rawUpgrade("/ws", [key]).replace("dGhlIHNhbXBsZSBub25jZQ==", "short"))
        assert.strictEqual(badKey.status, 400)
        assert.isTrue(badKey.closed || badKey.status === 400)
        const h2c = yield* rawExchange(port, rawUpgrade("/ws", [key]).replace("Upgrade: websocket", "Upgrade: h2c"))
        assert.strictEqual(h2c.status, 426)
      }))
  })

  layer(
    gatewayWithWsBackend((url) => ({
      auth: wsAuth,
      services: { dashboard_server: { url } },
      rate_limit: { enabled: true, global: { requests_per_second: 0.01, burst: 1 } }
    })),
    realTime
  )((it) => {
    it.scoped("rate limits upgrades like any request: 429 with Retry-After", () =>
      Effect.gen(function* () {
        const backend = yield* WsBackendTag
        yield* open({ headers: viewerKey })
        const second = yield* connect({ headers: viewerKey })
        assert.strictEqual(refusedStatus(second), 429)
        if (second._tag === "Refused") assert.isDefined(second.headers["retry-after"])
        assert.strictEqual(backend.upgrades.length, 1)
      }))
  })
})
