import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { LruMap } from "../../src/domain/LruMap.js"

describe("LruMap", () => {
  it("never holds more than its capacity, and keeps the newest value of every key it holds", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), key: fc.integer({ min: 0, max: 30 }), value: fc.integer() }),
      fc.record({ kind: fc.constant("get" as const), key: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 30 }) })
    )
    fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
      const lru = new LruMap<number, number>(capacity)
      const latest = new Map<number, number>()
      for (const o of ops) {
        if (o.kind === "set") {
          lru.set(o.key, o.value)
          latest.set(o.key, o.value)
        } else if (o.kind === "delete") lru.delete(o.key)
        else lru.get(o.key)
        expect(lru.size).toBeLessThanOrEqual(capacity)
      }
      for (const [key, value] of lru.entries()) expect(value).toBe(latest.get(key))
    }))
  })

  it("drops the least recently used: a read moves an entry from the older half to the newest end", () => {
    const lru = new LruMap<string, number>(4)
    for (const k of ["a", "b", "c", "d"]) lru.set(k, 1)
    expect(lru.get("a")).toBe(1) // the oldest: moved
    lru.set("e", 1)
    expect([...lru.entries()].map(([k]) => k)).toEqual(["c", "d", "a", "e"]) // b, now the oldest, was dropped
  })

  it("peek reads without making an entry recent", () => {
    const lru = new LruMap<string, number>(2)
    lru.set("a", 1)
    lru.set("b", 2)
    expect(lru.peek("a")).toBe(1)
    lru.set("c", 3)
    expect(lru.has("a")).toBe(false)
    expect(lru.peek("b")).toBe(2)
  })

  it("keeps a key read at least once per capacity / 2 insertions, however many keys pass through", () => {
    const lru = new LruMap<string, number>(10)
    lru.set("hot", 1)
    for (let i = 0; i < 10_000; i++) {
      lru.set(`k${i}`, i)
      if (i % 5 === 4) expect(lru.get("hot")).toBe(1)
    }
    expect(lru.size).toBe(10)
    // unread, it goes within `capacity` insertions
    for (let i = 0; i < 10; i++) lru.set(`m${i}`, i)
    expect(lru.has("hot")).toBe(false)
  })
})
