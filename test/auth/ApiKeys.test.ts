import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as crypto from "node:crypto"
import { beforeEach, vi } from "vitest"
import { findKey, hashKeys, sha256 } from "../../src/domain/ApiKeys.js"
import { Auth } from "../../src/services/Auth.js"
import { authLayer, withApiKey } from "../support/AuthHarness.js"
import { apiKeyEntries, apiKeys, keyDigest, keyNames } from "../support/AuthTokens.js"

// An ES module namespace cannot be spied on (vi.spyOn throws "Module namespace is not
// configurable"), so node:crypto is mocked for this file with timingSafeEqual wrapped:
// it still compares, and every call is counted.
vi.mock("node:crypto", async (importOriginal) => {
  const original = await importOriginal<typeof import("node:crypto")>()
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) }
})

const compare = vi.mocked(crypto.timingSafeEqual)

type Entry = { key: string; role: "viewer" | "operator" | "admin"; name?: string }
const entries = hashKeys(apiKeyEntries as Array<Entry>)

describe("ApiKeys", () => {
  beforeEach(() => {
    compare.mockClear()
  })

  it("keeps only SHA-256 hashes of the keys, and names each key (key:<name>, else key:<12 hex>)", () => {
    assert.strictEqual(entries.length, 4)
    for (const e of entries) assert.strictEqual(e.hash.length, 32)
    assert.deepStrictEqual(entries.map((e) => e.user), [
      `key:${keyNames.viewer}`, `key:${keyNames.operator}`, `key:${keyNames.admin}`, `key:${keyDigest(apiKeys.unnamed)}`
    ])
    assert.deepStrictEqual(entries[3]!.hash, sha256(apiKeys.unnamed))
    const text = JSON.stringify(entries)
    for (const key of Object.values(apiKeys)) assert.notInclude(text, key, "no raw key is kept")
  })

  it("compares with crypto.timingSafeEqual against every configured key, whichever matches", () => {
    for (const [presented, expected] of [
      [apiKeys.viewer, `key:${keyNames.viewer}`], // the first entry
      [apiKeys.unnamed, `key:${keyDigest(apiKeys.unnamed)}`], // the last entry
      ["no-such-key-at-all-000000", undefined]
    ] as const) {
      compare.mockClear()
      assert.strictEqual(findKey(entries, presented)?.user, expected, presented)
      assert.strictEqual(compare.mock.calls.length, entries.length, `${presented}: every key compared`)
      for (const [a, b] of compare.mock.calls) {
        assert.strictEqual(a.byteLength, 32, "hashes are compared, not the raw key")
        assert.strictEqual(b.byteLength, 32)
      }
    }
  })

  it("a key of another length is still compared in constant time (hashed first)", () => {
    assert.isUndefined(findKey(entries, "x"))
    assert.isUndefined(findKey(entries, "y".repeat(10_000)))
    assert.strictEqual(compare.mock.calls.length, 2 * entries.length)
  })

  it.effect("the Auth service looks keys up the same way on a request", () =>
    Effect.gen(function* () {
      const auth = yield* Auth
      compare.mockClear()
      const identity = yield* auth.authenticate(withApiKey(apiKeys.admin))
      assert.strictEqual(identity.user, `key:${keyNames.admin}`)
      assert.strictEqual(compare.mock.calls.length, apiKeyEntries.length)
    }).pipe(Effect.provide(authLayer())))
})
