import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { exportSPKI } from "jose"
import {
  assertAccepted, assertRefused, type AuthCounters, authCounters, AuthKeys, authGateway, call, freshOrder
} from "../support/AuthGateway.js"
import {
  apiKey, apiKeys, bearer, nowSeconds, secretBytes, signToken, tokenFor, unsignedToken
} from "../support/AuthTokens.js"
import { assertErrorReply, fromFetch } from "../support/HttpErrors.js"
import { realTime } from "../support/HttpClient.js"

const invalidToken = "Invalid or expired token"

const alice = { user_id: "alice", role: "operator" }

/** Tokens SPEC §4 refuses, each built against the running layer's keys. */
const refusedTokens: ReadonlyArray<readonly [string, Effect.Effect<string, never, AuthKeys>]> = [
  ["alg none (unsigned)", Effect.sync(() => unsignedToken(alice))],
  ["signed with another secret", signToken(alice, { key: secretBytes("another-secret-that-is-forty-chars-long!!") })],
  ["expired 2 minutes ago (beyond the 30 s leeway)", Effect.suspend(() => signToken(alice, { exp: nowSeconds() - 120, iat: nowSeconds() - 600 }))],
  ["not before 2 minutes from now", Effect.suspend(() => signToken(alice, { nbf: nowSeconds() + 120 }))],
  ["an unknown role", signToken({ user_id: "alice", role: "superuser" })],
  ["no role claim", signToken({ user_id: "alice" })],
  ["no user_id and no sub", signToken({ role: "admin" })],
  ["no exp", signToken(alice, { exp: undefined })],
  ["HS384 with the right secret", signToken(alice, { alg: "HS384" })],
  ["HS256 keyed with the JWKS's RSA public key PEM (HS/RS confusion)", Effect.gen(function* () {
    const { keys } = yield* AuthKeys
    const rsa = keys["rsa-1"]!
    const pem = yield* Effect.promise(() => exportSPKI(rsa.publicKey))
    return yield* signToken({ user_id: "mallory", role: "admin" }, { kid: rsa.kid, key: new TextEncoder().encode(pem) })
  })],
  ["not a JWT at all", Effect.succeed("not.a.jwt")]
]

const delta = (before: AuthCounters, after: AuthCounters) => ({
  attempts: (type: string) => after.attempts(type) - before.attempts(type),
  failures: (type: string, reason: string) => after.failures(type, reason) - before.failures(type, reason)
})

const reasons = ["missing", "expired", "bad_signature", "bad_claims", "unknown_key", "forbidden"]
const types = ["jwt", "api_key", "none"]

describe("Tokens", () => {
  layer(authGateway((jwksUrl) => ({ auth: { jwks_url: jwksUrl } }), [["RS256", "rsa-1"]]), realTime)((it) => {
    it.effect("accepts an HS256 token signed with jwt_secret", () =>
      Effect.gen(function* () {
        yield* assertAccepted(bearer(yield* tokenFor("alice", "operator")), "alice", "operator", "HS256")
      }))

    for (const [name, token] of refusedTokens) {
      it.effect(`refuses a token: ${name} → 401 ${invalidToken}`, () =>
        Effect.gen(function* () {
          yield* assertRefused(bearer(yield* token), name)
        }))
    }

    it.effect("accepts a token that expired 10 s ago, or becomes valid in 10 s: within the 30 s leeway", () =>
      Effect.gen(function* () {
        yield* assertAccepted(bearer(yield* signToken(alice, { exp: nowSeconds() - 10, iat: nowSeconds() - 600 })), "alice", "operator", "exp -10 s")
        yield* assertAccepted(bearer(yield* signToken(alice, { nbf: nowSeconds() + 10 })), "alice", "operator", "nbf +10 s")
      }))

    it.effect("an invalid Bearer token does not fall through to a valid X-API-Key sent alongside", () =>
      Effect.gen(function* () {
        const expired = yield* signToken(alice, { exp: nowSeconds() - 120, iat: nowSeconds() - 600 })
        for (const token of ["not.a.jwt", expired, unsignedToken({ user_id: "x", role: "admin" })]) {
          yield* assertRefused({ ...bearer(token), ...apiKey(apiKeys.admin) }, `Bearer ${token.slice(0, 12)}… with the admin key`)
        }
      }))

    it.effect("a valid Bearer token is used before X-API-Key", () =>
      Effect.gen(function* () {
        const viewer = yield* tokenFor("vera", "viewer")
        const res = yield* call("GET", freshOrder(), { ...bearer(viewer), ...apiKey(apiKeys.admin) })
        assertErrorReply(fromFetch(res), 403, "Insufficient permissions")
      }))

    it.effect("uses sub when the user_id claim is absent, and user_id when both are there", () =>
      Effect.gen(function* () {
        yield* assertAccepted(bearer(yield* signToken({ sub: "subject-7", role: "operator" })), "subject-7", "operator", "sub only")
        yield* assertAccepted(bearer(yield* signToken({ sub: "subject-8", user_id: "uid-8", role: "admin" })), "uid-8", "admin", "both")
      }))

    it.effect("counts failures by reason (missing, expired, bad_signature, bad_claims, unknown_key, forbidden) and attempts by type", () =>
      Effect.gen(function* () {
        const cases: ReadonlyArray<{ readonly type: string; readonly reason: string | undefined; readonly headers: Record<string, string> }> = [
          { type: "none", reason: "missing", headers: {} },
          { type: "jwt", reason: "expired", headers: bearer(yield* signToken(alice, { exp: nowSeconds() - 120, iat: nowSeconds() - 600 })) },
          { type: "jwt", reason: "bad_signature", headers: bearer(yield* signToken(alice, { key: secretBytes("x".repeat(40)) })) },
          { type: "jwt", reason: "bad_claims", headers: bearer(yield* signToken({ user_id: "alice", role: "root" })) },
          { type: "api_key", reason: "unknown_key", headers: apiKey("no-such-key-424242424242") },
          { type: "api_key", reason: "forbidden", headers: apiKey(apiKeys.viewer) },
          { type: "jwt", reason: "forbidden", headers: bearer(yield* tokenFor("vic", "viewer")) },
          { type: "jwt", reason: undefined, headers: bearer(yield* tokenFor("olga", "operator")) },
          { type: "api_key", reason: undefined, headers: apiKey(apiKeys.operator) }
        ]
        for (const c of cases) {
          const label = `${c.type}/${c.reason ?? "success"}`
          const before = yield* authCounters
          const res = yield* call("GET", freshOrder(), c.headers)
          assert.strictEqual(res.status, c.reason === undefined ? 200 : c.reason === "forbidden" ? 403 : 401, label)
          const d = delta(before, yield* authCounters)
          for (const type of types) assert.strictEqual(d.attempts(type), type === c.type ? 1 : 0, `${label}: attempts{type=${type}}`)
          for (const type of types) {
            for (const reason of reasons) {
              const expected = type === c.type && reason === c.reason ? 1 : 0
              assert.strictEqual(d.failures(type, reason), expected, `${label}: failures{type=${type},reason=${reason}}`)
            }
          }
        }
      }))
  })

  layer(authGateway(() => ({ auth: { claims: { user_id: "uid", role: "grp" } } })), realTime)((it) => {
    it.effect("auth.claims: the user id and role are read from the configured claim names", () =>
      Effect.gen(function* () {
        yield* assertAccepted(bearer(yield* signToken({ uid: "carol", grp: "operator" })), "carol", "operator", "uid/grp")
        yield* assertAccepted(bearer(yield* signToken({ sub: "dave", grp: "viewer" })), "dave", "viewer", "sub/grp")
      }))

    it.effect("auth.claims: the default claim names no longer count", () =>
      Effect.gen(function* () {
        yield* assertRefused(bearer(yield* signToken({ user_id: "carol", role: "admin" })), "user_id/role only")
        const res = yield* call("PUT", "/api/v1/config/max_position", bearer(yield* signToken({ uid: "erin", grp: "viewer", role: "admin" })))
        assertErrorReply(fromFetch(res), 403, "Insufficient permissions")
      }))
  })

  layer(authGateway(() => ({ auth: { issuer: "https://idp.example.test", audience: "trading-gateway" } })), realTime)((it) => {
    const issued = { user_id: "ivan", role: "viewer", iss: "https://idp.example.test", aud: "trading-gateway" }

    it.effect("issuer and audience: a token carrying both is accepted (aud may be a list)", () =>
      Effect.gen(function* () {
        yield* assertAccepted(bearer(yield* signToken(issued)), "ivan", "viewer", "iss and aud")
        yield* assertAccepted(bearer(yield* signToken({ ...issued, aud: ["other", "trading-gateway"] })), "ivan", "viewer", "aud list")
      }))

    it.effect("issuer and audience: a wrong or missing iss or aud is 401", () =>
      Effect.gen(function* () {
        const { aud: _aud, ...noAud } = issued
        const { iss: _iss, ...noIss } = issued
        yield* assertRefused(bearer(yield* signToken({ ...issued, iss: "https://evil.example.test" })), "wrong iss")
        yield* assertRefused(bearer(yield* signToken(noIss)), "missing iss")
        yield* assertRefused(bearer(yield* signToken({ ...issued, aud: "another-api" })), "wrong aud")
        yield* assertRefused(bearer(yield* signToken(noAud)), "missing aud")
      }))
  })
})
