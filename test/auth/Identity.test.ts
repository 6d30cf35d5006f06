import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { accessLinesOf, authGateway, call, freshOrder, freshTicker, recorded, theBackend, unique } from "../support/AuthGateway.js"
import { apiKey, apiKeys, bearer, keyDigest, keyNames, signToken, tokenFor } from "../support/AuthTokens.js"
import { CapturedLogs } from "../support/CapturingSink.js"
import { assertErrorReply, fromFetch } from "../support/HttpErrors.js"
import { realTime } from "../support/HttpClient.js"

const spoofed = { "x-auth-user": "mallory", "x-auth-role": "admin" }

/** GET `path` with `headers`, answered 200; what the backend received. */
const forwarded = (path: string, headers: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const res = yield* call("GET", path, headers)
    assert.strictEqual(res.status, 200, `${path}: ${res.text}`)
    return recorded(yield* theBackend, path).headers
  })

describe("Identity", () => {
  layer(authGateway(), realTime)((it) => {
    it.effect("a named key is forwarded as X-Auth-User key:<name> with its role", () =>
      Effect.gen(function* () {
        const headers = yield* forwarded(freshTicker(), apiKey(apiKeys.viewer))
        assert.strictEqual(headers["x-auth-user"], `key:${keyNames.viewer}`)
        assert.strictEqual(headers["x-auth-role"], "viewer")
      }))

    it.effect("an unnamed key is forwarded as key:<first 12 hex of its SHA-256>", () =>
      Effect.gen(function* () {
        const headers = yield* forwarded(freshOrder(), apiKey(apiKeys.unnamed))
        assert.match(keyDigest(apiKeys.unnamed), /^[0-9a-f]{12}$/)
        assert.strictEqual(headers["x-auth-user"], `key:${keyDigest(apiKeys.unnamed)}`)
        assert.strictEqual(headers["x-auth-role"], "operator")
      }))

    it.effect("a token is forwarded as its user id with its role", () =>
      Effect.gen(function* () {
        const headers = yield* forwarded(freshOrder(), bearer(yield* tokenFor("alice@desk-3", "admin")))
        assert.strictEqual(headers["x-auth-user"], "alice@desk-3")
        assert.strictEqual(headers["x-auth-role"], "admin")
      }))

    it.effect("X-Auth-User and X-Auth-Role sent by the client are replaced by the gateway's own", () =>
      Effect.gen(function* () {
        const viaKey = yield* forwarded(freshTicker(), { ...spoofed, ...apiKey(apiKeys.viewer) })
        assert.strictEqual(viaKey["x-auth-user"], `key:${keyNames.viewer}`)
        assert.strictEqual(viaKey["x-auth-role"], "viewer")
        const viaToken = yield* forwarded(freshTicker(), { ...spoofed, ...bearer(yield* tokenFor("bob", "viewer")) })
        assert.strictEqual(viaToken["x-auth-user"], "bob")
        assert.strictEqual(viaToken["x-auth-role"], "viewer")
        for (const headers of [viaKey, viaToken]) {
          assert.notInclude(JSON.stringify(headers), "mallory", "no trace of the client's X-Auth-User")
        }
      }))

    it.effect("a client's X-Auth-Role never raises its role", () =>
      Effect.gen(function* () {
        const backend = yield* theBackend
        const before = backend.requests.length
        const res = yield* call("POST", "/api/v1/risk/emergency-stop", { ...spoofed, ...apiKey(apiKeys.viewer) })
        assertErrorReply(fromFetch(res), 403, "Insufficient permissions")
        const alone = yield* call("POST", "/api/v1/risk/emergency-stop", spoofed)
        assertErrorReply(fromFetch(alone), 401, "Authentication required")
        assert.strictEqual(backend.requests.length, before)
      }))

    it.effect("hide_credentials false (the default): Authorization and X-API-Key are forwarded as sent", () =>
      Effect.gen(function* () {
        const token = yield* tokenFor("carol", "viewer")
        const withToken = yield* forwarded(freshTicker(), bearer(token))
        assert.strictEqual(withToken.authorization, `Bearer ${token}`)
        const withKey = yield* forwarded(freshTicker(), apiKey(apiKeys.viewer))
        assert.strictEqual(withKey["x-api-key"], apiKeys.viewer)
      }))

    it.effect("the access log's caller is the token's user id or the key's name", () =>
      Effect.gen(function* () {
        const byToken = unique("caller-jwt")
        yield* call("GET", freshTicker(), { ...bearer(yield* tokenFor("dora", "viewer")), "x-request-id": byToken })
        const byKey = unique("caller-key")
        yield* call("GET", freshTicker(), { ...apiKey(apiKeys.operator), "x-request-id": byKey })
        const denied = unique("caller-denied")
        yield* call("DELETE", "/api/v1/config/max_position", { ...apiKey(apiKeys.operator), "x-request-id": denied })
        assert.strictEqual((yield* accessLinesOf(byToken))[0]!.fields.caller, "dora")
        assert.strictEqual((yield* accessLinesOf(byKey))[0]!.fields.caller, keyNames.operator)
        const [deniedLine] = yield* accessLinesOf(denied)
        assert.strictEqual(deniedLine!.fields.status, 403)
        assert.strictEqual(deniedLine!.fields.caller, keyNames.operator, "a denied caller is still named")
      }))

    it.effect("no log line holds an API key, a JWT or a token query value", () =>
      Effect.gen(function* () {
        const token = yield* tokenFor("erin", "viewer")
        const forged = yield* signToken({ user_id: "erin", role: "admin" }, { key: new TextEncoder().encode("z".repeat(40)) })
        const queryToken = `qtok${unique("q").replace(/-/g, "")}`
        const unknownKey = "unknown-key-5f4e3d2c1b0a"
        const requests: ReadonlyArray<readonly [string, string, Record<string, string>]> = [
          ["GET", freshTicker(), bearer(token)],
          ["GET", `${freshTicker()}?token=${token}&limit=5`, {}],
          ["GET", `${freshTicker()}?token=${queryToken}`, apiKey(apiKeys.viewer)],
          ["GET", `/api/v1/no-such-route?token=${queryToken}`, {}],
          ["GET", freshTicker(), apiKey(apiKeys.admin)],
          ["POST", "/api/v1/orders", apiKey(apiKeys.viewer)],
          ["GET", freshTicker(), apiKey(unknownKey)],
          ["GET", freshTicker(), bearer(forged)],
          ["GET", freshTicker(), { ...bearer(forged), ...apiKey(apiKeys.admin) }],
          ["GET", `/health?token=${queryToken}`, bearer(token)]
        ]
        const ids: Array<string> = []
        for (const [method, path, headers] of requests) {
          const id = unique("secret")
          ids.push(id)
          yield* call(method, path, { ...headers, "x-request-id": id })
        }
        for (const id of ids) yield* accessLinesOf(id) // every request has been logged
        const [withQuery] = yield* accessLinesOf(ids[1]!)
        assert.include(String(withQuery!.fields.query), "limit=5", "the query is logged, without the token")
        const lines = yield* CapturedLogs
        assert.isAbove(lines.length, requests.length)
        const secrets = [token, forged, queryToken, unknownKey, apiKeys.viewer, apiKeys.admin]
        for (const line of lines) {
          const text = JSON.stringify(line)
          for (const secret of secrets) assert.notInclude(text, secret, `a captured "${line.message}" line holds a secret`)
          // the signature alone identifies a token too
          for (const jwt of [token, forged]) assert.notInclude(text, jwt.split(".")[2]!, `a captured "${line.message}" line holds a JWT signature`)
        }
      }))
  })

  layer(authGateway(() => ({ auth: { hide_credentials: true } })), realTime)((it) => {
    it.effect("hide_credentials true: Authorization and X-API-Key are stripped upstream, identity and other headers kept", () =>
      Effect.gen(function* () {
        const token = yield* tokenFor("frank", "viewer")
        const both = yield* forwarded(freshTicker(), { ...bearer(token), ...apiKey(apiKeys.admin), "x-custom": "kept" })
        assert.notProperty(both, "authorization")
        assert.notProperty(both, "x-api-key")
        assert.strictEqual(both["x-custom"], "kept")
        assert.strictEqual(both["x-auth-user"], "frank")
        const keyOnly = yield* forwarded(freshTicker(), apiKey(apiKeys.viewer))
        assert.notProperty(keyOnly, "x-api-key")
        assert.strictEqual(keyOnly["x-auth-user"], `key:${keyNames.viewer}`)
      }))
  })

  layer(authGateway(() => ({ auth: { enabled: false } })), realTime)((it) => {
    it.effect("auth disabled: client X-Auth-User/X-Auth-Role are still removed, and none are added", () =>
      Effect.gen(function* () {
        const plain = yield* forwarded(freshTicker(), spoofed)
        assert.notProperty(plain, "x-auth-user")
        assert.notProperty(plain, "x-auth-role")
        const withKey = yield* forwarded(freshOrder(), { ...spoofed, ...apiKey(apiKeys.admin) })
        assert.notProperty(withKey, "x-auth-user")
        assert.notProperty(withKey, "x-auth-role")
        assert.strictEqual(withKey["x-api-key"], apiKeys.admin, "credentials pass through untouched")
      }))
  })
})
