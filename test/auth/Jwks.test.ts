import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { randomUUID } from "node:crypto"
import { vi } from "vitest"
import { assertAccepted, assertRefused, AuthKeys, authGateway, call, freshTicker } from "../support/AuthGateway.js"
import { bearer, makeSigningKey, signWith } from "../support/AuthTokens.js"
import { realTime } from "../support/HttpClient.js"

const withJwks = (jwksUrl: string) => ({ auth: { jwks_url: jwksUrl } })

/**
 * Moves the wall clock (Date.now) `ms` ahead until the scope closes. jose times the JWKS
 * cooldown with Date.now, and the gateway's Clock reads it too, so tokens signed now stay
 * consistent; timers are untouched.
 */
const shiftWallClock = (ms: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const real = Date.now.bind(Date)
      return vi.spyOn(Date, "now").mockImplementation(() => real() + ms)
    }),
    (spy) => Effect.sync(() => spy.mockRestore())
  )

const claims = (user: string) => ({ user_id: user, role: "viewer" })

describe("Jwks", () => {
  layer(authGateway(withJwks, [["RS256", "rsa-a"], ["ES256", "ec-a"], ["RS384", "rsa-384"]]), realTime)((it) => {
    it.effect("accepts an RS256 and an ES256 token whose kid the JWKS serves, with one fetch of the key set", () =>
      Effect.gen(function* () {
        const { jwks, keys } = yield* AuthKeys
        assert.isAtMost(jwks.hits(), 1, "fetched at most once before any token")
        yield* assertAccepted(bearer(yield* signWith(keys["rsa-a"]!, claims("rita"))), "rita", "viewer", "RS256")
        yield* assertAccepted(bearer(yield* signWith(keys["ec-a"]!, claims("ernie"))), "ernie", "viewer", "ES256")
        yield* assertAccepted(bearer(yield* signWith(keys["rsa-a"]!, claims("rita-2"))), "rita-2", "viewer", "RS256 again")
        assert.strictEqual(jwks.hits(), 1)
      }))

    it.effect("refuses a token naming a known kid but signed by another key", () =>
      Effect.gen(function* () {
        const { keys } = yield* AuthKeys
        const impostor = yield* makeSigningKey("RS256", "rsa-a")
        yield* assertRefused(bearer(yield* signWith(impostor, claims("mallory"))), "kid rsa-a, another key")
        assert.notStrictEqual(impostor.jwk.n, keys["rsa-a"]!.jwk.n)
      }))

    it.effect("refuses an algorithm outside the allow-list even from a key the JWKS serves (RS384)", () =>
      Effect.gen(function* () {
        const { keys } = yield* AuthKeys
        yield* assertRefused(bearer(yield* signWith(keys["rsa-384"]!, claims("rob"))), "RS384")
      }))

    it.effect("refuses an ES256 token that names the RSA key's kid", () =>
      Effect.gen(function* () {
        const { keys } = yield* AuthKeys
        // signed by the EC key, but naming the RSA kid: verification must fail, not crash
        yield* assertRefused(bearer(yield* signWith(keys["ec-a"]!, claims("x"), { kid: "rsa-a" })), "ES256 with kid rsa-a")
      }))

    it.effect("expired RS256 tokens are refused like HS256 ones", () =>
      Effect.gen(function* () {
        const { keys } = yield* AuthKeys
        const now = Math.floor(Date.now() / 1000)
        yield* assertRefused(bearer(yield* signWith(keys["rsa-a"]!, claims("old"), { exp: now - 120, iat: now - 600 })), "expired")
      }))
  })

  layer(authGateway(withJwks, [["RS256", "rsa-old"], ["RS256", "rsa-new", "unserved"]]), realTime)((it) => {
    it.scoped("rotation: after the provider switches key sets, a token with the new kid is accepted after one refetch", () =>
      Effect.gen(function* () {
        const { jwks, keys } = yield* AuthKeys
        const oldKey = keys["rsa-old"]!
        const newKey = keys["rsa-new"]!
        yield* assertAccepted(bearer(yield* signWith(oldKey, claims("before"))), "before", "viewer", "old kid")
        assert.strictEqual(jwks.hits(), 1)

        jwks.setKeys([newKey.jwk])
        // within 30 s of the last fetch an unknown kid does not refetch: the token is refused
        yield* assertRefused(bearer(yield* signWith(newKey, claims("early"))), "new kid, inside the cooldown")
        assert.strictEqual(jwks.hits(), 1, "no refetch inside the 30 s cooldown")

        yield* shiftWallClock(31_000)
        yield* assertAccepted(bearer(yield* signWith(newKey, claims("after"))), "after", "viewer", "new kid, after the cooldown")
        assert.strictEqual(jwks.hits(), 2, "exactly one refetch")
        yield* assertAccepted(bearer(yield* signWith(newKey, claims("after-2"))), "after-2", "viewer", "new kid again")
        assert.strictEqual(jwks.hits(), 2, "the new set is cached")
      }))
  })

  layer(authGateway(withJwks, [["RS256", "rsa-live"], ["RS256", "rsa-rogue", "unserved"]]), realTime)((it) => {
    it.scoped("a storm of 50 tokens with random unknown kids makes at most a couple of JWKS fetches, and all get 401", () =>
      Effect.gen(function* () {
        const { jwks, keys } = yield* AuthKeys
        yield* assertAccepted(bearer(yield* signWith(keys["rsa-live"]!, claims("live"))), "live", "viewer", "known kid")
        // the worst case: the cooldown since the last fetch has passed when the storm starts
        yield* shiftWallClock(31_000)
        const before = jwks.hits()
        const tokens = yield* Effect.forEach(Array.from({ length: 50 }, () => randomUUID()), (kid) =>
          signWith(keys["rsa-rogue"]!, claims("storm"), { kid }))
        const statuses = yield* Effect.forEach(tokens, (token) => Effect.map(call("GET", freshTicker(), bearer(token)), (r) => r.status), {
          concurrency: 10
        })
        assert.deepStrictEqual([...new Set(statuses)], [401])
        const fetches = jwks.hits() - before
        assert.isAtMost(fetches, 2, `the storm made ${fetches} JWKS fetches`)
        yield* assertAccepted(bearer(yield* signWith(keys["rsa-live"]!, claims("still"))), "still", "viewer", "known kid after the storm")
        assert.strictEqual(jwks.hits() - before, fetches, "a known kid needs no fetch")
      }))
  })
})
