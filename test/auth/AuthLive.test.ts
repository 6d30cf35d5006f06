import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as TestClock from "effect/TestClock"
import { Auth } from "../../src/services/Auth.js"
import { authLayer, failureCount, withApiKey, withBearer } from "../support/AuthHarness.js"
import { apiKeys, keyNames, signToken } from "../support/AuthTokens.js"

// TestClock starts at the epoch; the tests set it to a whole second and sign tokens
// against that time. AuthLive passes Clock's time to jose as `currentDate`.
const start = 1_700_000_000
const startMs = start * 1000

const alice = { user_id: "alice", role: "operator" }

/** The InvalidToken the effect fails with; a success or another failure fails the test. */
const refusal = (self: Effect.Effect<unknown, { readonly _tag: string }>) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(self)
    if (error._tag !== "InvalidToken") return assert.fail(`expected InvalidToken, got ${error._tag}`)
    return error as { readonly _tag: "InvalidToken"; readonly reason: string }
  })

describe("AuthLive", () => {
  it.effect("a token verified and cached stops being accepted 30 s after exp, with reason expired", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(startMs)
      const auth = yield* Auth
      const credentials = withBearer(yield* signToken(alice, { iat: start, exp: start + 60 }))
      assert.isFalse(Exit.isExit(auth.authenticate(credentials)), "not verified yet: an Effect that verifies when run")
      assert.strictEqual((yield* auth.authenticate(credentials)).user, "alice")
      assert.isTrue(Exit.isExit(auth.authenticate(credentials)), "remembered once verified: settled at the call")

      yield* TestClock.adjust("89 seconds") // exp + 29 s: inside the leeway
      assert.strictEqual((yield* auth.authenticate(credentials)).user, "alice")
      assert.strictEqual(yield* failureCount("jwt", "expired"), 0)

      yield* TestClock.adjust("2 seconds") // exp + 31 s
      assert.strictEqual((yield* refusal(auth.authenticate(credentials))).reason, "expired")
      assert.strictEqual(yield* failureCount("jwt", "expired"), 1)
      // and it stays refused, whether the cache or jose answers
      assert.strictEqual((yield* refusal(auth.authenticate(credentials))).reason, "expired")
      assert.strictEqual(yield* failureCount("jwt", "expired"), 2)
    }).pipe(Effect.provide(authLayer())))

  it.effect("a token seen for the first time gets the same 30 s leeway on exp", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(startMs)
      const auth = yield* Auth
      const recent = withBearer(yield* signToken(alice, { iat: start - 600, exp: start - 10 }))
      assert.strictEqual((yield* auth.authenticate(recent)).user, "alice", "expired 10 s ago: accepted")
      const stale = withBearer(yield* signToken(alice, { iat: start - 600, exp: start - 31 }))
      assert.strictEqual((yield* refusal(auth.authenticate(stale))).reason, "expired", "expired 31 s ago: refused")
    }).pipe(Effect.provide(authLayer())))

  it.effect("nbf is honoured with the leeway: refused 60 s early, accepted once within 30 s of it", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(startMs)
      const auth = yield* Auth
      const credentials = withBearer(yield* signToken(alice, { iat: start, nbf: start + 60, exp: start + 3600 }))
      yield* refusal(auth.authenticate(credentials))
      assert.isFalse(Exit.isExit(auth.authenticate(credentials)), "a refused token is not remembered")
      yield* TestClock.adjust("31 seconds") // nbf - 29 s
      assert.strictEqual((yield* auth.authenticate(credentials)).user, "alice")
    }).pipe(Effect.provide(authLayer())))

  it.effect("once the clock passes exp + 30 s, a never-seen token is refused as expired too", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(startMs)
      const auth = yield* Auth
      const token = yield* signToken(alice, { iat: start, exp: start + 60 })
      yield* TestClock.adjust("91 seconds")
      assert.strictEqual((yield* refusal(auth.authenticate(withBearer(token)))).reason, "expired")
      assert.strictEqual(yield* failureCount("jwt", "expired"), 1)
    }).pipe(Effect.provide(authLayer())))

  it.effect("looks up API keys once built: a known key's identity, an unknown key, no credentials", () =>
    Effect.gen(function* () {
      const auth = yield* Auth
      assert.isTrue(Exit.isExit(auth.authenticate(withApiKey(apiKeys.viewer))), "an API key is settled at the call")
      assert.deepStrictEqual(yield* auth.authenticate(withApiKey(apiKeys.viewer)), {
        type: "api_key",
        user: `key:${keyNames.viewer}`,
        caller: keyNames.viewer,
        role: "viewer"
      })
      assert.strictEqual((yield* auth.authenticate(withApiKey(apiKeys.admin))).role, "admin")
      const unknown = yield* Effect.flip(auth.authenticate(withApiKey("no-such-key-31415926")))
      assert.strictEqual(unknown._tag, "InvalidApiKey")
      assert.strictEqual(yield* failureCount("api_key", "unknown_key"), 1)
      const none = yield* Effect.flip(auth.authenticate({ bearer: undefined, apiKey: undefined }))
      assert.strictEqual(none._tag, "MissingCredentials")
      assert.strictEqual(yield* failureCount("none", "missing"), 1)
    }).pipe(Effect.provide(authLayer())))

  it.effect("a Bearer token is judged before X-API-Key: an invalid token with a valid key is refused", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(startMs)
      const auth = yield* Auth
      const expired = yield* signToken(alice, { iat: start - 600, exp: start - 120 })
      const error = yield* Effect.flip(auth.authenticate({ bearer: expired, apiKey: apiKeys.admin }))
      assert.strictEqual(error._tag, "InvalidToken")
    }).pipe(Effect.provide(authLayer())))
})
