// websocket.ping_interval (not in the SPEC; README "Choices"): both sides of a session are
// pinged, and a side that stays silent for a whole interval is dropped, so a vanished client
// or a hung backend does not hold a connection slot for ever.
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { CapturedLogs } from "../support/CapturingSink.js"
import { eventually, realTime, send } from "../support/HttpClient.js"
import { parsePrometheus } from "../support/HttpPrometheus.js"
import { gatewayUrl } from "../support/TestGateway.js"
import { wsAuth, wsKeys } from "../support/WebSocketAuth.js"
import { gatewayWithWsBackend, WsBackendTag } from "../support/WebSocketBackend.js"
import { closedWith, open, receive, sendText } from "../support/WebSocketClient.js"

const headers = { "x-api-key": wsKeys.viewer }

const gauge = Effect.gen(function* () {
  const res = yield* send(`${yield* gatewayUrl}/metrics`)
  return parsePrometheus(res.text).get("api_gateway_websocket_connections")?.samples[0]?.value
})

/** The "WebSocket closed" line of the session with request id `id`, once it is there. */
const sessionEnd = (id: string) =>
  Effect.flatMap(CapturedLogs, (logs) =>
    eventually(Effect.sync(() => {
      const line = logs.find((l) => l.message === "WebSocket closed" && l.fields["request_id"] === id)
      assert.isDefined(line)
      return line!.fields
    })))

/** A client through the gateway, with the pings it has received so far. */
const openCounting = Effect.gen(function* () {
  const client = yield* open({ headers })
  let pings = 0
  client.socket.on("ping", () => void pings++)
  return { client, pings: () => pings }
})

const withPings = (interval: string) =>
  gatewayWithWsBackend((url) => ({ auth: wsAuth, services: { dashboard_server: { url } }, websocket: { ping_interval: interval } }))

describe("WebSocket keepalive", () => {
  layer(withPings("150ms"), realTime)((it) => {
    it.scoped("pings an idle client, which answers and stays connected", () =>
      Effect.gen(function* () {
        const { client, pings } = yield* openCounting
        yield* Effect.sleep("900 millis") // six intervals, nothing sent either way
        assert.isAtLeast(pings(), 3)
        assert.isUndefined(client.closed())
        yield* sendText(client, "still here")
        assert.strictEqual((yield* receive(client)).text, "still here")
      }))

    it.scoped("drops a client that stops answering, telling the backend it went away (1001)", () =>
      Effect.gen(function* () {
        const backend = yield* WsBackendTag
        const client = yield* open({ headers: { ...headers, "x-request-id": "ws-silent-client" } })
        yield* sendText(client, "hello")
        yield* receive(client)
        const closesBefore = backend.closes.length
        client.socket.pause() // reads nothing, so answers no ping: a client whose network vanished
        yield* eventually(Effect.sync(() => assert.deepStrictEqual(backend.closes.slice(closesBefore).map((c) => c.code), [1001])), { timeoutMs: 3_000 })
        yield* eventually(Effect.map(gauge, (v) => assert.strictEqual(v, 0)), { timeoutMs: 3_000 })
        client.socket.resume()
        assert.strictEqual((yield* closedWith(client)).code, 1006) // its TCP connection was cut
        const end = yield* sessionEnd("ws-silent-client")
        assert.strictEqual(end["closed_by"], "gateway")
        assert.strictEqual(end["close_code"], 1006)
      }))

    it.scoped("drops a backend that stops answering and closes the client with 1001", () =>
      Effect.gen(function* () {
        const client = yield* open({ headers: { ...headers, "x-request-id": "ws-silent-backend" } })
        yield* sendText(client, "freeze") // the echo backend stops reading
        assert.strictEqual((yield* closedWith(client)).code, 1001)
        const end = yield* sessionEnd("ws-silent-backend")
        assert.strictEqual(end["closed_by"], "gateway")
        assert.strictEqual(end["close_code"], 1001)
        yield* eventually(Effect.map(gauge, (v) => assert.strictEqual(v, 0)), { timeoutMs: 3_000 })
      }))
  })

  layer(withPings("0s"), realTime)((it) => {
    it.scoped("sends no pings when ping_interval is 0", () =>
      Effect.gen(function* () {
        const { client, pings } = yield* openCounting
        yield* sendText(client, "freeze") // a hung backend is kept: nothing checks it
        yield* Effect.sleep("600 millis")
        assert.strictEqual(pings(), 0)
        assert.isUndefined(client.closed())
      }))
  })
})
