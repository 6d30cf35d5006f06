import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { RetryBudget } from "../../src/domain/RetryBudget.js"

const withInFlight = (ratio: number, inFlight: number): RetryBudget => {
  const budget = new RetryBudget(ratio)
  for (let i = 0; i < inFlight; i++) budget.enter()
  return budget
}

/** How many retries the budget lets start at once (bounded, in case it never refuses). */
const grantable = (budget: RetryBudget): number => {
  let granted = 0
  while (granted < 10_000 && budget.tryStartRetrying()) granted++
  return granted
}

describe("RetryBudget", () => {
  it("always allows one retry, even with a single request in flight or a ratio of 0", () => {
    assert.strictEqual(grantable(withInFlight(0.2, 1)), 1)
    assert.strictEqual(grantable(withInFlight(0, 50)), 1)
    assert.strictEqual(grantable(withInFlight(0.2, 4)), 1, "floor(0.2 × 4) = 0, still one")
  })

  it("allows floor(ratio × in-flight) retries at once when that is more than one", () => {
    assert.strictEqual(grantable(withInFlight(0.2, 10)), 2)
    assert.strictEqual(grantable(withInFlight(0.2, 14)), 2)
    assert.strictEqual(grantable(withInFlight(0.2, 15)), 3)
    assert.strictEqual(grantable(withInFlight(1, 7)), 7)
  })

  it("frees a slot when a retrying request stops retrying", () => {
    const budget = withInFlight(0.2, 10)
    assert.strictEqual(grantable(budget), 2)
    budget.stopRetrying()
    assert.isTrue(budget.tryStartRetrying())
    assert.isFalse(budget.tryStartRetrying())
    assert.deepStrictEqual(budget.current, { inFlight: 10, retrying: 2 })
  })

  it("shrinks with the requests in flight: retries already started are kept, new ones refused", () => {
    const budget = withInFlight(0.5, 8)
    assert.strictEqual(grantable(budget), 4)
    budget.leave()
    budget.leave() // 6 in flight: room for 3
    budget.stopRetrying()
    assert.isFalse(budget.tryStartRetrying(), "3 retrying = floor(0.5 × 6)")
    budget.stopRetrying()
    assert.isTrue(budget.tryStartRetrying(), "2 retrying < 3")
  })

  it("follows a new ratio (SIGHUP) at once", () => {
    const budget = withInFlight(0.2, 10)
    budget.ratio = 0.5
    assert.strictEqual(grantable(budget), 5)
  })

  it("never lets more than max(1, floor(ratio × in-flight)) retries run at once", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 500 }), (ratio, inFlight) => {
        const granted = grantable(withInFlight(ratio, inFlight))
        assert.strictEqual(granted, Math.max(1, Math.floor(ratio * inFlight)), `ratio ${ratio}, ${inFlight} in flight`)
      })
    )
  })

  it("keeps the bound through any interleaving of arrivals, departures and retries", () => {
    const op = fc.constantFrom("enter", "leave", "retry", "stop")
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.array(op, { maxLength: 200 }), (ratio, ops) => {
        const budget = new RetryBudget(ratio)
        let inFlight = 0
        let retrying = 0
        for (const o of ops) {
          if (o === "enter") {
            budget.enter()
            inFlight++
          } else if (o === "leave" && inFlight > retrying) {
            budget.leave()
            inFlight--
          } else if (o === "retry" && retrying < inFlight) {
            const before = Math.max(1, Math.floor(ratio * inFlight))
            const ok = budget.tryStartRetrying()
            assert.strictEqual(ok, retrying < before, `granted ${ok} with ${retrying} retrying, bound ${before}`)
            if (ok) retrying++
          } else if (o === "stop" && retrying > 0) {
            budget.stopRetrying()
            retrying--
          }
        }
        assert.deepStrictEqual(budget.current, { inFlight, retrying })
      })
    )
  })
})
