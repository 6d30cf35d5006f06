import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as TestClock from "effect/TestClock"
import { eager, exitOf, isSettled, tapFailure } from "../../src/http/Eager.js"

class Refused extends Data.TaggedError("Refused")<{ readonly step: number }> {}

describe("eager", () => {
  it("settles a body whose steps are all Exits at the call: an Exit, no fiber", () => {
    const seen: Array<string> = []
    const body = eager(function* (n: number) {
      const a = yield* Exit.succeed(n + 1)
      seen.push(`a=${a}`)
      const b = yield* Effect.succeed(a * 2) // Effect.succeed is an Exit too
      seen.push(`b=${b}`)
      return b
    })
    const result = body(1)
    assert.deepStrictEqual(seen, ["a=2", "b=4"], "the steps ran at the call")
    assert.isTrue(isSettled(result))
    assert.deepStrictEqual(result, Exit.succeed(4))
  })

  it("stops at a failed step: the failure is the result and nothing after it runs", () => {
    let after = false
    const result = eager(function* () {
      yield* Exit.fail(new Refused({ step: 1 }))
      after = true
      return "never"
    })()
    assert.isFalse(after)
    assert.isTrue(isSettled(result) && Exit.isFailure(result))
    assert.deepStrictEqual(result, Exit.fail(new Refused({ step: 1 })))
  })

  it.effect("continues from the first unsettled step as an Effect, run when it is run", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const program = eager(function* () {
        seen.push("before")
        const slept = yield* Effect.as(Effect.sleep("1 second"), "woke")
        seen.push(slept)
        const n = yield* Exit.succeed(2)
        if (n === 2) return yield* Exit.fail(new Refused({ step: 3 }))
        return n
      })()
      assert.isFalse(isSettled(program))
      assert.deepStrictEqual(seen, ["before"], "nothing after the unsettled step ran at the call")
      const fiber = yield* Effect.fork(Effect.exit(program))
      yield* TestClock.adjust("1 second")
      const exit = yield* fiber.await
      assert.deepStrictEqual(seen, ["before", "woke"])
      assert.deepStrictEqual(exit, Exit.succeed(Exit.fail(new Refused({ step: 3 }))))
    }))

  it.effect("a throw in the body is a defect, before or after an unsettled step, never thrown to the caller", () =>
    Effect.gen(function* () {
      const early = eager(function* () {
        yield* Exit.succeed(1)
        throw new Error("boom early")
      })()
      assert.isTrue(isSettled(early) && Exit.isFailure(early) && Cause.isDie(early.cause))
      const late = eager(function* () {
        yield* Effect.yieldNow()
        throw new Error("boom late")
      })()
      const exit = yield* Effect.exit(late)
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.include(String(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)), "boom late")
    }))
})

describe("exitOf", () => {
  it.effect("keeps a settled step settled, and turns an unsettled one into Effect.exit", () =>
    Effect.gen(function* () {
      const settled = exitOf(Exit.fail(new Refused({ step: 1 })))
      assert.isTrue(isSettled(settled))
      assert.deepStrictEqual(settled, Exit.succeed(Exit.fail(new Refused({ step: 1 }))))
      const later = exitOf(Effect.yieldNow().pipe(Effect.zipRight(Effect.fail(new Refused({ step: 2 })))))
      assert.isFalse(isSettled(later))
      assert.deepStrictEqual(yield* later, Exit.fail(new Refused({ step: 2 })))
    }))
})

describe("tapFailure", () => {
  it.effect("sees a settled failure at the call and keeps it settled; an unsettled one when it is run", () =>
    Effect.gen(function* () {
      const seen: Array<number> = []
      const settled = tapFailure(Exit.fail(new Refused({ step: 1 })), (e) => seen.push(e.step))
      assert.deepStrictEqual(seen, [1])
      assert.isTrue(isSettled(settled))
      assert.deepStrictEqual(settled, Exit.fail(new Refused({ step: 1 })))
      assert.deepStrictEqual(tapFailure(Exit.succeed(3), () => seen.push(0)), Exit.succeed(3))
      const later = tapFailure(Effect.yieldNow().pipe(Effect.zipRight(Effect.fail(new Refused({ step: 2 })))), (e) => seen.push(e.step))
      assert.isFalse(isSettled(later))
      assert.deepStrictEqual(seen, [1], "nothing seen before it runs")
      assert.deepStrictEqual(yield* Effect.exit(later), Exit.fail(new Refused({ step: 2 })))
      assert.deepStrictEqual(seen, [1, 2])
    }))
})
