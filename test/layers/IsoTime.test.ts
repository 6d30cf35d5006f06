import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { makeIsoTime } from "../../src/layers/IsoTime.js"

// Date's range: ±8.64e15 ms around 1970 (years -271821 to 275760, six-digit years signed)
const anyMs = fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 })

describe("makeIsoTime", () => {
  it("writes what Date#toISOString writes, for any millisecond Date can hold", () => {
    const iso = makeIsoTime()
    fc.assert(fc.property(anyMs, (ms) => {
      expect(iso(ms)).toBe(new Date(ms).toISOString())
    }), { numRuns: 5_000 })
  })

  it("stays right across the milliseconds and seconds a running clock passes, backwards too", () => {
    const iso = makeIsoTime()
    const start = Date.UTC(2026, 10, 30, 23, 59, 58, 990) // through a second, a minute, a day and a month
    for (let ms = start; ms < start + 2_100; ms++) {
      expect(iso(ms)).toBe(new Date(ms).toISOString())
      expect(iso(ms)).toBe(new Date(ms).toISOString()) // the remembered millisecond
    }
    for (const ms of [start + 1_500, start + 20, start - 1, -1, 0, 999, 1_000, Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1)]) {
      expect(iso(ms)).toBe(new Date(ms).toISOString())
    }
  })
})
