import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { CapturedLogs } from "../support/CapturingSink.js"
import { eventually, gatewayPort, rawExchange, realTime, send } from "../support/HttpClient.js"
import { wsAuth, wsKeys, wsToken } from "../support/WebSocketAuth.js"
import { backendProtocols, gatewayWithWsBackend, WsBackendTag } from "../support/WebSocketBackend.js"
import { closedWith, connect, open, rawRead, rawUpgrade, receive, sendBinary, sendText } from "../support/WebSocketClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

const maxFrame = 4_096
const viewerKey = { "x-api-key": wsKeys.viewer }

const gateway = gatewayWithWsBackend((url) => ({
  auth: wsAuth,
  services: { dashboard_server: { url, timeout: "2s" } },
  websocket: { max_frame_bytes: maxFrame }
}))

const lastUpgrade = Effect.map(WsBackendTag, (b) => b.upgrades.at(-1))

describe("WebSocketProxy", () => {
  layer(gateway, realTime)((it) => {
    it.scoped("echoes text and binary through the gateway with an X-API-Key header", () =>
      Effect.gen(function* () {
        const client = yield* open({ headers: viewerKey })
        yield* sendText(client, "hello")
        const text = yield* receive(client)
        assert.deepStrictEqual([text.text, text.binary], ["hello", false])
        yield* sendBinary(client, Buffer.from([0, 1, 2, 255]))
        const binary = yield* receive(client)
        assert.deepStrictEqual([binary.bytes, binary.binary], [4, true])
      }))

    it.scoped("accepts a JWT in the token parameter and never forwards the token", () =>
      Effect.gen(function* () {
        const token = yield* wsToken("alice", "viewer")
        const client = yield* open({ query: `room=7&token=${token}&lang=en` })
        yield* sendText(client, "ping")
        assert.strictEqual((yield* receive(client)).text, "ping")
        const up = yield* lastUpgrade
        assert.strictEqual(up?.url, "/ws?room=7&lang=en")
        assert.strictEqual(up?.headers["x-auth-user"], "alice")
        assert.strictEqual(up?.headers["x-auth-role"], "viewer")
        const logs = yield* CapturedLogs
        assert.notInclude(JSON.stringify(logs), token, "the token never reaches a log line")
      }))

    it.scoped("accepts an API key in the token parameter, removed before forwarding", () =>
      Effect.gen(function* () {
        const client = yield* open({ query: `token=${wsKeys.admin}` })
        yield* sendText(client, "x")
        yield* receive(client)
        const up = yield* lastUpgrade
        assert.strictEqual(up?.url, "/ws")
        assert.strictEqual(up?.headers["x-auth-user"], "key:ws-admin")
        assert.notInclude(JSON.stringify(up), wsKeys.admin)
      }))

    it.scoped("forwards the gateway's headers and drops client-sent X-Auth-*", () =>
      Effect.gen(function* () {
        yield* open({ headers: { ...viewerKey, "x-auth-user": "mallory", "x-auth-role": "admin", "x-request-id": "ws-req-1" } })
        const headers = (yield* lastUpgrade)?.headers ?? {}
        assert.strictEqual(headers["x-auth-user"], "key:ws-viewer")
        assert.strictEqual(headers["x-auth-role"], "viewer")
        assert.strictEqual(headers["x-request-id"], "ws-req-1")
        assert.strictEqual(headers["x-gateway-version"], "1.0.0")
        assert.strictEqual(headers["x-forwarded-for"], "127.0.0.1")
        assert.strictEqual(headers["x-forwarded-proto"], "http")
        assert.match(String(headers["x-forwarded-host"]), /^127\.0\.0\.1:\d+$/)
        assert.match(String(headers["traceparent"]), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
      }))

    it.scoped("refuses an upgrade without credentials with 401; the backend sees nothing", () =>
      Effect.gen(function* () {
        const backend = yield* WsBackendTag
        const before = backend.upgrades.length
        const opened = yield* connect()
        assert.strictEqual(opened._tag, "Refused")
        if (opened._tag !== "Refused") return
        assert.strictEqual(opened.status, 401)
        assert.strictEqual(opened.headers["www-authenticate"], "Bearer")
        assert.strictEqual(JSON.parse(opened.body).error, "Authentication required")
        assert.strictEqual(backend.upgrades.length, before)
      }))

    it.scoped("refuses a bad token in the query with 401", () =>
      Effect.gen(function* () {
        const opened = yield* connect({ query: "token=not-a-key" })
        assert.strictEqual(opened._tag === "Refused" ? opened.status : 101, 401)
      }))

    it.effect("answers GET on websocket.path without Upgrade with 426", () =>
      Effect.gen(function* () {
        const res = yield* send(`${yield* gatewayUrl}/ws`, { headers: viewerKey })
        assert.strictEqual(res.status, 426)
        assert.strictEqual(res.json?.error, "Upgrade required")
      }))

    it.scoped("passes subprotocols through: the backend's pick is the client's", () =>
      Effect.gen(function* () {
        const client = yield* open({ headers: viewerKey, protocols: ["bogus", "dash.v1", "dash.v2"] })
        assert.strictEqual(client.socket.protocol, "dash.v1")
        assert.deepStrictEqual((yield* lastUpgrade)?.protocols, ["bogus", "dash.v1", "dash.v2"])
        assert.include(backendProtocols, client.socket.protocol)
      }))

    // ws's own client refuses such an answer (browsers accept it): a raw handshake shows it
    it.effect("opens without a subprotocol when the backend picks none of those offered", () =>
      Effect.gen(function* () {
        const reply = yield* rawExchange(yield* gatewayPort, rawUpgrade("/ws", [`X-API-Key: ${wsKeys.viewer}`, "Sec-WebSocket-Protocol: bogus"]))
        assert.strictEqual(reply.status, 101, reply.raw)
        assert.isUndefined(reply.headers["sec-websocket-protocol"])
        assert.deepStrictEqual((yield* lastUpgrade)?.protocols, ["bogus"])
      }))

    it.scoped("relays a frame the client sent right behind its upgrade request", () =>
      Effect.gen(function* () {
        const mask = Buffer.from([1, 2, 3, 4])
        const payload = Buffer.from("early")
        const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i % 4]!)])
        const upgrade = Buffer.from(rawUpgrade("/ws", [`X-API-Key: ${wsKeys.viewer}`]), "latin1")
        const bytes = yield* rawRead(yield* gatewayPort, Buffer.concat([upgrade, frame]), (data) => data.includes("early"))
        const text = bytes.toString("latin1")
        assert.match(text, /^HTTP\/1\.1 101 /)
        assert.deepStrictEqual([...bytes.subarray(text.indexOf("\r\n\r\n") + 4)], [0x81, 5, ...Buffer.from("early")])
      }))

    it.scoped("passes the backend's close code and reason to the client", () =>
      Effect.gen(function* () {
        const client = yield* open({ headers: viewerKey })
        yield* sendText(client, "close:4000:bye")
        assert.deepStrictEqual(yield* closedWith(client), { code: 4000, reason: "bye" })
      }))

    it.scoped("passes the client's close code and reason to the backend", () =>
      Effect.gen(function* () {
        const backend = yield* WsBackendTag
        const client = yield* open({ headers: viewerKey })
        client.socket.close(4001, "done")
        assert.strictEqual((yield* closedWith(client)).code, 4001)
        yield* eventually(Effect.sync(() => assert.deepInclude(backend.closes, { code: 4001, reason: "done" })))
      }))

    it.scoped("closes the client with 1001 or 1011 when the backend dies", () =>
      Effect.gen(function* () {
        const client = yield* open({ headers: viewerKey })
        yield* sendText(client, "die")
        assert.include([1001, 1011], (yield* closedWith(client)).code)
      }))

    it.scoped("closes the client with 1009 on a frame over max_frame_bytes; the backend is told 1001", () =>
      Effect.gen(function* () {
        const backend = yield* WsBackendTag
        const client = yield* open({ headers: viewerKey })
        yield* sendBinary(client, Buffer.alloc(maxFrame))
        assert.strictEqual((yield* receive(client)).bytes, maxFrame, "max_frame_bytes itself passes")
        const closesBefore = backend.closes.length
        yield* sendBinary(client, Buffer.alloc(maxFrame + 1))
        assert.strictEqual((yield* closedWith(client)).code, 1009)
        yield* eventually(Effect.sync(() => assert.strictEqual(backend.closes.at(closesBefore)?.code, 1001)))
      }))

    it.scoped("logs the session end with its close code and the access log says 101", () =>
      Effect.gen(function* () {
        const client = yield* open({ headers: { ...viewerKey, "x-request-id": "ws-logged-1" } })
        client.socket.close(1000)
        yield* closedWith(client)
        const logs = yield* CapturedLogs
        const mine = () => logs.filter((l) => l.fields["request_id"] === "ws-logged-1")
        yield* eventually(Effect.sync(() => {
          const session = mine().find((l) => l.message === "WebSocket closed")
          assert.strictEqual(session?.fields["close_code"], 1000)
          assert.strictEqual(session?.fields["closed_by"], "client")
          assert.isNumber(session?.fields["duration_ms"])
          assert.strictEqual(mine().find((l) => l.message === "HTTP request")?.fields["status"], 101)
        }))
      }))
  })
})
