import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { formatGoDuration, parseGoDuration } from "../../src/domain/GoDuration.js"

describe("GoDuration", () => {
  describe("parseGoDuration", () => {
    it("reads every unit of SPEC §1 as milliseconds", () => {
      assert.strictEqual(parseGoDuration("500us"), 0.5)
      assert.strictEqual(parseGoDuration("100ms"), 100)
      assert.strictEqual(parseGoDuration("5s"), 5_000)
      assert.strictEqual(parseGoDuration("2m"), 120_000)
      assert.strictEqual(parseGoDuration("24h"), 86_400_000)
    })

    it("adds up compound durations", () => {
      assert.strictEqual(parseGoDuration("1m30s"), 90_000)
      assert.strictEqual(parseGoDuration("1h2m3s4ms"), 3_723_004)
    })

    it("reads a bare 0 and zero with a unit as zero", () => {
      assert.strictEqual(parseGoDuration("0"), 0)
      assert.strictEqual(parseGoDuration("0s"), 0)
    })

    it("accepts Go's other spellings: µs, ns and decimal fractions", () => {
      assert.strictEqual(parseGoDuration("250µs"), 0.25)
      assert.strictEqual(parseGoDuration("1000000ns"), 1)
      assert.strictEqual(parseGoDuration("1.5s"), 1_500)
    })

    it("refuses a number without a unit", () => {
      assert.isUndefined(parseGoDuration("5"))
      assert.isUndefined(parseGoDuration("10"))
    })

    it("refuses unknown units, empty text and junk between parts", () => {
      for (const text of ["5x", "", "1h-2m", "s", "5 s", " 5s", "5s ", "5S", "1d", "5sec", "-"]) {
        assert.isUndefined(parseGoDuration(text), `${JSON.stringify(text)} must be refused`)
      }
    })

    it("gives the same answer when called again (no state kept between calls)", () => {
      assert.isUndefined(parseGoDuration("5s5"))
      assert.strictEqual(parseGoDuration("5s"), 5_000)
      assert.strictEqual(parseGoDuration("5s"), 5_000)
    })
  })

  describe("formatGoDuration", () => {
    it("writes the largest units first and leaves out zero parts", () => {
      assert.strictEqual(formatGoDuration(90_000), "1m30s")
      assert.strictEqual(formatGoDuration(86_400_000), "24h")
      assert.strictEqual(formatGoDuration(3_600_000 + 1_000), "1h1s")
      assert.strictEqual(formatGoDuration(5_000), "5s")
      assert.strictEqual(formatGoDuration(1_500), "1s500ms")
    })

    it("writes sub-second values in ms, fractions of a millisecond in us", () => {
      assert.strictEqual(formatGoDuration(100), "100ms")
      assert.strictEqual(formatGoDuration(0.5), "500us")
    })

    it("writes zero as 0s", () => {
      assert.strictEqual(formatGoDuration(0), "0s")
    })

    it("is read back by parseGoDuration to the same whole number of milliseconds", () => {
      fc.assert(
        fc.property(fc.nat({ max: 10 * 86_400_000 }), (ms) => parseGoDuration(formatGoDuration(ms)) === ms)
      )
    })
  })
})
