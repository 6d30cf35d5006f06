import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as TestClock from "effect/TestClock"
import { callback, eager, exitOf, isSettled, onSettled, registerOf, runStep, tapFailure } from "../../src/http/Eager.js"

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

// A callback step whose reply the test gives by hand, as a Redis reply arrives later.
const manual = <A, E>() => {
  const pending: Array<(next: Effect.Effect<A, E>) => void> = []
  const step = callback<A, E>((resume) => void pending.push(resume))
  return { step, pending, reply: (next: Effect.Effect<A, E>) => pending.shift()!(next) }
}
// runStep with a runFork that records what it was asked to run on a fiber
const runner = () => {
  const forked: Array<unknown> = []
  const runFork = <X, Y>(effect: Effect.Effect<X, Y>) => {
    forked.push(effect)
    return Effect.runFork(effect)
  }
  return { forked, runFork }
}

describe("callback steps", () => {
  it("continue the body in the reply's resume: no fiber, the steps after it run when it resumes", () => {
    const reply = manual<number, Refused>()
    const seen: Array<string> = []
    const program = eager(function* (n: number) {
      seen.push("before")
      const got = yield* reply.step
      seen.push(`got ${got}`)
      const more = yield* Exit.succeed(got + n)
      return more * 10
    })(1)
    assert.isFalse(isSettled(program))
    assert.isDefined(registerOf(program), "the rest of the body is itself a callback")
    const { forked, runFork } = runner()
    const exits: Array<Exit.Exit<number, Refused>> = []
    runStep(program, runFork, (exit) => exits.push(exit))
    assert.deepStrictEqual(seen, ["before"], "nothing after the step before its reply")
    assert.strictEqual(reply.pending.length, 1, "the step was registered once")
    reply.reply(Exit.succeed(4))
    assert.deepStrictEqual(seen, ["before", "got 4"])
    assert.deepStrictEqual(exits, [Exit.succeed(50)])
    assert.deepStrictEqual(forked, [], "no fiber")
  })

  it("stop the body at a failed reply, which is the result", () => {
    const reply = manual<number, Refused>()
    let after = false
    const exits: Array<Exit.Exit<number, Refused>> = []
    const { forked, runFork } = runner()
    runStep(eager(function* () {
      const n = yield* reply.step
      after = true
      return n
    })(), runFork, (exit) => exits.push(exit))
    reply.reply(Exit.fail(new Refused({ step: 7 })))
    assert.isFalse(after)
    assert.deepStrictEqual(exits, [Exit.fail(new Refused({ step: 7 }))])
    assert.deepStrictEqual(forked, [])
  })

  it("go on a fiber only when the reply is an Effect that is neither settled nor a callback", async () => {
    const reply = manual<number, Refused>()
    const { forked, runFork } = runner()
    const done = new Promise<Exit.Exit<number, Refused>>((resolve) =>
      runStep(eager(function* () {
        const n = yield* reply.step
        return n + 1
      })(), runFork, resolve)
    )
    reply.reply(Effect.as(Effect.yieldNow(), 41)) // e.g. a log line to write before the answer
    assert.strictEqual(forked.length, 1)
    assert.deepStrictEqual(await done, Exit.succeed(42))
  })

  it.effect("run as an ordinary Effect.async by anything that runs Effects", () =>
    Effect.gen(function* () {
      const program = eager(function* () {
        const a = yield* callback<number>((resume) => void setTimeout(() => resume(Exit.succeed(20)), 1))
        const b = yield* callback<number>((resume) => resume(Effect.succeed(a + 1)))
        return b * 2
      })()
      assert.strictEqual(yield* program, 42)
    }))

  it("a registration that throws is a defect, not a throw to the caller", () => {
    const exits: Array<Exit.Exit<never, never>> = []
    runStep(callback<never>(() => {
      throw new Error("boom")
    }), runner().runFork, (exit) => exits.push(exit))
    assert.strictEqual(exits.length, 1)
    assert.isTrue(Exit.isFailure(exits[0]!) && Cause.isDie(exits[0].cause))
  })

  it("stay callbacks through onSettled, tapFailure and exitOf, which see the reply when it comes", () => {
    const a = manual<number, Refused>()
    const b = manual<number, Refused>()
    const c = manual<number, Refused>()
    const seen: Array<string> = []
    const observed = onSettled(a.step, (exit) => seen.push(`a ${exit._tag}`))
    const tapped = tapFailure(b.step, (e) => seen.push(`b failed ${e.step}`))
    const exited = exitOf(c.step)
    const steps: Array<Effect.Effect<unknown, unknown>> = [observed, tapped, exited]
    for (const step of steps) assert.isDefined(registerOf(step))
    const exits: Array<unknown> = []
    const { forked, runFork } = runner()
    for (const step of steps) runStep(step, runFork, (exit) => exits.push(exit))
    assert.deepStrictEqual(seen, [], "nothing seen before the replies")
    a.reply(Exit.succeed(1))
    b.reply(Exit.fail(new Refused({ step: 2 })))
    c.reply(Exit.fail(new Refused({ step: 3 })))
    assert.deepStrictEqual(seen, ["a Success", "b failed 2"])
    assert.deepStrictEqual(exits, [Exit.succeed(1), Exit.fail(new Refused({ step: 2 })), Exit.succeed(Exit.fail(new Refused({ step: 3 })))])
    assert.deepStrictEqual(forked, [])
  })
})
