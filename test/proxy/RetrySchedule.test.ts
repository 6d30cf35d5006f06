import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { attemptFailure, retrySchedule, type RetrySettings } from "../../src/domain/Retry.js"

const settings = (over: Partial<RetrySettings> = {}): RetrySettings => ({
  initialIntervalMs: 100,
  maxIntervalMs: 5_000,
  multiplier: 2,
  jitter: false,
  ...over
})

/**
 * The delay of each recurrence for a run of failures (Schedule.delays, no request run).
 * Schedule.run also collects the output of the final, done step (a zero delay): it is
 * checked and dropped, so the length is the number of recurrences.
 */
const delaysOf = (s: RetrySettings, maxRetries: number) =>
  Schedule.run(Schedule.delays(retrySchedule(s, maxRetries)), 0, Array.from({ length: maxRetries + 10 }, (_, i) => i)).pipe(
    Effect.map((chunk) => {
      const all = Chunk.toReadonlyArray(chunk).map(Duration.toMillis)
      assert.strictEqual(all.at(-1), 0, "the schedule ends (done) before the inputs run out")
      return all.slice(0, -1)
    })
  )

/** The un-jittered, capped delay of recurrence `i` (0-based). */
const nominal = (s: RetrySettings, i: number) => Math.min(s.initialIntervalMs * s.multiplier ** i, s.maxIntervalMs)

describe("Retry", () => {
  describe("retrySchedule without jitter", () => {
    it.effect("doubles from initial_interval: 100, 200, 400, 800 ms", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* delaysOf(settings(), 4), [100, 200, 400, 800])
      }))

    it.effect("caps every delay at max_interval", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* delaysOf(settings({ maxIntervalMs: 500 }), 6), [100, 200, 400, 500, 500, 500])
      }))

    it.effect("uses the configured multiplier", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* delaysOf(settings({ initialIntervalMs: 20, multiplier: 3 }), 4), [20, 60, 180, 540])
      }))

    it.effect("recurs exactly max_retries times, and not at all with max_retries 0", () =>
      Effect.gen(function* () {
        for (const maxRetries of [0, 1, 2, 3, 7]) {
          assert.strictEqual((yield* delaysOf(settings(), maxRetries)).length, maxRetries, `max_retries ${maxRetries}`)
        }
      }))

    it.effect("drives Effect.retry on the clock: 1 + max_retries attempts at 100, 200, 400 ms", () =>
      Effect.gen(function* () {
        const attempts = yield* Ref.make(0)
        const failure = attemptFailure("connection_refused", true, "connection refused")
        const call = Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.fail(failure)))
        const fiber = yield* call.pipe(Effect.retry(retrySchedule(settings(), 3)), Effect.flip, Effect.fork)
        yield* Effect.yieldNow()
        assert.strictEqual(yield* Ref.get(attempts), 1, "the first attempt runs at once")
        for (const [delay, expected] of [[100, 2], [200, 3], [400, 4]] as const) {
          yield* TestClock.adjust(Duration.millis(delay - 1))
          assert.strictEqual(yield* Ref.get(attempts), expected - 1, `not before ${delay} ms`)
          yield* TestClock.adjust(Duration.millis(1))
          assert.strictEqual(yield* Ref.get(attempts), expected, `after ${delay} ms`)
        }
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error, failure, "the last failure is the result")
        yield* TestClock.adjust("1 hour")
        assert.strictEqual(yield* Ref.get(attempts), 4, "no attempt after the last retry")
      }))

    it.effect("Effect.retry stops early when the failure is not retryable (the `while` guard)", () =>
      Effect.gen(function* () {
        const attempts = yield* Ref.make(0)
        const call = Ref.updateAndGet(attempts, (n) => n + 1).pipe(
          Effect.flatMap((n) => Effect.fail(attemptFailure(n === 1 ? "timeout" : "aborted", false, "x")))
        )
        const fiber = yield* call.pipe(
          Effect.retry({ schedule: retrySchedule(settings(), 5), while: (e) => e.kind !== "aborted" }),
          Effect.flip,
          Effect.fork
        )
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual((yield* Fiber.join(fiber)).kind, "aborted")
        assert.strictEqual(yield* Ref.get(attempts), 2)
      }))
  })

  describe("retrySchedule with jitter", () => {
    const jittered = settings({ jitter: true, maxIntervalMs: 1_000 })

    it.effect("keeps every delay within [0.8, 1.2] of the un-jittered one and never above max_interval", () =>
      Effect.gen(function* () {
        const factors: Array<number> = []
        for (let seed = 0; seed < 40; seed++) {
          const delays = yield* delaysOf(jittered, 8).pipe(Effect.withRandom(Random.make(`jitter-${seed}`)))
          assert.strictEqual(delays.length, 8, "jitter does not change the number of recurrences")
          delays.forEach((d, i) => {
            const base = nominal(jittered, i)
            assert.isAtMost(d, jittered.maxIntervalMs, `delay ${i} = ${d} above max_interval`)
            assert.isAtLeast(d, 0.8 * base - 1e-6, `delay ${i} = ${d} below 0.8 × ${base}`)
            assert.isAtMost(d, 1.2 * base + 1e-6, `delay ${i} = ${d} above 1.2 × ${base}`)
            if (jittered.initialIntervalMs * jittered.multiplier ** i * 1.2 < jittered.maxIntervalMs) factors.push(d / base)
          })
        }
        // the jitter is real and spans the range, not a constant factor
        assert.isBelow(Math.min(...factors), 0.9, "some delays are jittered down")
        assert.isAbove(Math.max(...factors), 1.1, "some delays are jittered up")
      }))

    it.effect("applies the jitter before the cap: delays near max_interval never exceed it", () =>
      Effect.gen(function* () {
        // 100 × 2^3 = 800: jittered up to 960 and down to 640, capped at 700
        const s = settings({ jitter: true, maxIntervalMs: 700 })
        let capped = 0
        for (let seed = 0; seed < 60; seed++) {
          const d = (yield* delaysOf(s, 4).pipe(Effect.withRandom(Random.make(`cap-${seed}`))))[3]!
          assert.isAtMost(d, 700)
          assert.isAtLeast(d, 640 - 1e-6)
          if (d === 700) capped++
        }
        assert.isAbove(capped, 0, "some jittered delays hit the cap")
        assert.isBelow(capped, 60, "some jittered delays stay below the cap")
      }))

    it.effect("the jittered retry loop still makes 1 + max_retries attempts", () =>
      Effect.gen(function* () {
        const attempts = yield* Ref.make(0)
        const call = Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.fail(attemptFailure("reset", false, "reset"))))
        const fiber = yield* call.pipe(Effect.retry(retrySchedule(jittered, 4)), Effect.flip, Effect.fork)
        // adjust by the upper bound of each delay (1.2×), asserting counts only (STYLE 2.9)
        for (let i = 0; i < 4; i++) {
          yield* TestClock.adjust(Duration.millis(Math.ceil(1.2 * nominal(jittered, i))))
          assert.strictEqual(yield* Ref.get(attempts), i + 2)
        }
        yield* Fiber.join(fiber)
        yield* TestClock.adjust("1 hour")
        assert.strictEqual(yield* Ref.get(attempts), 5)
      }))
  })
})
