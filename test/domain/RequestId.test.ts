import { describe, expect, it } from "vitest"
import { newRequestId } from "../../src/domain/RequestId.js"

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("newRequestId", () => {
  it("draws version-4 UUIDs, none repeated across many refills of its pool", () => {
    const seen = new Set<string>()
    for (let i = 0; i < 10_000; i++) { // ~156 pools of 64
      const id = newRequestId()
      expect(id).toMatch(uuidV4)
      seen.add(id)
    }
    expect(seen.size).toBe(10_000)
  })

  it("leaves every random digit random: each position takes every value it may", () => {
    // 4,000 ids: a position that may take 16 values misses one with probability ~16·(15/16)^4000
    const values = Array.from({ length: 36 }, () => new Set<string>())
    for (let i = 0; i < 4_000; i++) {
      const id = newRequestId()
      for (let p = 0; p < 36; p++) values[p]!.add(id[p]!)
    }
    for (let p = 0; p < 36; p++) {
      const expected = p === 8 || p === 13 || p === 18 || p === 23 ? 1 : p === 14 ? 1 : p === 19 ? 4 : 16
      expect(values[p]!.size, `position ${p}`).toBe(expected)
    }
  })
})
