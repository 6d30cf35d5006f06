// SPEC §2 cache.max_entries and §4 Cache, the in-memory store: an LRU bounded by
// max_entries whose TTLs run on Clock, so TestClock.adjust expires entries.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { CacheMemory } from "../../src/layers/CacheMemory.js"
import { Cache, type CachedResponse } from "../../src/services/Cache.js"
import { makeConfigLayer } from "../support/TestConfig.js"

// built inside each test, so the store reads that test's TestClock
const storeOf = (maxEntries: number) => CacheMemory.pipe(Layer.provide(makeConfigLayer({ cache: { max_entries: maxEntries } })))

const entry = (text: string): CachedResponse => ({
  status: 200,
  headers: { "content-type": "application/json" },
  body: Buffer.from(JSON.stringify({ text })),
  storedAt: 0
})

const key = (prefix: string, name: string) => `gw:cache:v1:${prefix}:${name.padStart(64, "0")}`
const market = (name: string) => key("/api/v1/market-data", name)

const bodyAt = (k: string) =>
  Effect.flatMap(Cache, (cache) => cache.lookup(k)).pipe(Effect.map((e) => e?.body.toString()))

const present = (keys: ReadonlyArray<string>) =>
  Effect.forEach(keys, (k) => Effect.map(bodyAt(k), (body) => body !== undefined))

describe("CacheMemory", () => {
  it.effect("serves an entry until its ttl has passed, then forgets it", () =>
    Effect.gen(function* () {
      const cache = yield* Cache
      yield* cache.store(market("a"), entry("a"), 1_000)
      assert.strictEqual(yield* bodyAt(market("a")), JSON.stringify({ text: "a" }))
      yield* TestClock.adjust("999 millis")
      assert.isDefined(yield* bodyAt(market("a")), "served before the ttl")
      yield* TestClock.adjust("2 millis")
      assert.isUndefined(yield* bodyAt(market("a")), "gone after the ttl")
    }).pipe(Effect.provide(storeOf(3))))

  it.effect("each entry keeps its own ttl", () =>
    Effect.gen(function* () {
      const cache = yield* Cache
      yield* cache.store(market("short"), entry("short"), 1_000)
      yield* cache.store(market("long"), entry("long"), 60_000)
      yield* TestClock.adjust("30 seconds")
      assert.deepStrictEqual(yield* present([market("short"), market("long")]), [false, true])
      yield* TestClock.adjust("31 seconds")
      assert.deepStrictEqual(yield* present([market("short"), market("long")]), [false, false])
    }).pipe(Effect.provide(storeOf(3))))

  it.effect("a store over an entry replaces it and restarts its ttl", () =>
    Effect.gen(function* () {
      const cache = yield* Cache
      yield* cache.store(market("a"), entry("old"), 1_000)
      yield* TestClock.adjust("900 millis")
      yield* cache.store(market("a"), entry("new"), 1_000)
      yield* TestClock.adjust("900 millis")
      assert.strictEqual(yield* bodyAt(market("a")), JSON.stringify({ text: "new" }))
    }).pipe(Effect.provide(storeOf(3))))

  it.effect("holds at most max_entries: a 4th entry evicts the least recently stored", () =>
    Effect.gen(function* () {
      const cache = yield* Cache
      for (const name of ["a", "b", "c", "d"]) yield* cache.store(market(name), entry(name), 60_000)
      assert.deepStrictEqual(yield* present([market("a"), market("b"), market("c"), market("d")]), [false, true, true, true])
      assert.strictEqual((yield* cache.describe).entries, 3)
    }).pipe(Effect.provide(storeOf(3))))

  it.effect("a lookup refreshes recency: the least recently used entry goes, not the oldest", () =>
    Effect.gen(function* () {
      const cache = yield* Cache
      for (const name of ["a", "b", "c"]) yield* cache.store(market(name), entry(name), 60_000)
      assert.isDefined(yield* bodyAt(market("a")))
      yield* cache.store(market("d"), entry("d"), 60_000)
      assert.deepStrictEqual(yield* present([market("a"), market("b"), market("c"), market("d")]), [true, false, true, true])
    }).pipe(Effect.provide(storeOf(3))))

  it.effect("purge drops one rule prefix's entries, not a longer prefix's, and answers the count", () =>
    Effect.gen(function* () {
      const cache = yield* Cache
      const keys = [
        key("/api/v1/market-data", "1"),
        key("/api/v1/market-data", "2"),
        key("/api/v1/market-data", "3"),
        key("/api/v1/market-data/ticker", "4"),
        key("/api/v1/account/balance", "5")
      ]
      for (const k of keys) yield* cache.store(k, entry(k), 60_000)
      assert.strictEqual(yield* cache.purge("/api/v1/market-data"), 3)
      assert.deepStrictEqual(yield* present(keys), [false, false, false, true, true])
      assert.strictEqual(yield* cache.purge("/api/v1/market-data"), 0, "nothing left to purge")
      assert.strictEqual(yield* cache.purge("/api/v1/account/balance"), 1)
      assert.strictEqual((yield* cache.describe).entries, 1)
    }).pipe(Effect.provide(storeOf(10))))

  it.effect("describes itself as a reachable memory store, whose lookups are settled at the call", () =>
    Effect.gen(function* () {
      const cache = yield* Cache
      assert.isTrue(Exit.isExit(cache.lookup("absent")))
      assert.deepStrictEqual(yield* cache.describe, { store: "memory", entries: 0, reachable: true })
    }).pipe(Effect.provide(storeOf(3))))
})
