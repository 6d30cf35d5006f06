// Checks without a fiber when nothing in them waits: the fiber Runtime.runSyncExit forked per
// request was ~10 % of a cache hit's CPU (README, Performance). Exit is an Effect: a step that is already
// settled (a memory bucket, a remembered API key or token, the breaker's state) returns one, and
// `eager` takes it at once. At the first step that is not an Exit (a Redis round trip, a JWT
// still to verify) the rest of the body continues as an ordinary Effect, run by a fiber. The
// body stays one typed Effect either way: errors in the error channel, yielded with `yield*`.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { type YieldWrap, yieldWrapGet } from "effect/Utils"

type Step = YieldWrap<Effect.Effect<unknown, unknown, unknown>>
type ErrorOf<S> = [S] extends [never] ? never : S extends YieldWrap<Effect.Effect<infer _A, infer E, infer _R>> ? E : never
type ContextOf<S> = [S] extends [never] ? never : S extends YieldWrap<Effect.Effect<infer _A, infer _E, infer R>> ? R : never

/** Exit.isExit, narrowed to the step's own success and error types. */
export const isSettled = <A, E, R>(step: Effect.Effect<A, E, R>): step is Exit.Exit<A, E> => Exit.isExit(step)

const drive = <A>(body: Iterator<Step, A, unknown>, input: unknown): Effect.Effect<unknown, unknown, unknown> => {
  try {
    let state = body.next(input)
    while (state.done !== true) {
      const step: Effect.Effect<unknown, unknown, unknown> = yieldWrapGet(state.value)
      if (!isSettled(step)) return Effect.flatMap(step, (value) => drive(body, value))
      if (Exit.isFailure(step)) return step
      state = body.next(step.value)
    }
    return Exit.succeed(state.value)
  } catch (defect) {
    return Exit.die(defect) // as Effect.gen: a throw in the body is a defect, never thrown to the caller
  }
}

/**
 * Effect.fnUntraced, run up to its first unsettled step when called: the result is an Exit when
 * every step was one, else an Effect that goes on from that step. Unlike Effect.fnUntraced, the
 * settled steps happen at the call, not when the result is run; run the result once.
 */
export const eager = <Args extends ReadonlyArray<unknown>, S extends Step, A>(body: (...args: Args) => Generator<S, A, never>) =>
  (...args: Args): Effect.Effect<A, ErrorOf<S>, ContextOf<S>> => {
    try {
      return drive(body(...args), undefined) as Effect.Effect<A, ErrorOf<S>, ContextOf<S>>
    } catch (defect) {
      return Exit.die(defect)
    }
  }

/** Effect.tapError with a synchronous side effect, keeping a settled step settled. */
export const tapFailure = <A, E, R>(step: Effect.Effect<A, E, R>, f: (error: E) => void): Effect.Effect<A, E, R> => {
  if (!isSettled(step)) return Effect.tapError(step, (error) => Effect.sync(() => f(error)))
  if (Exit.isFailure(step)) {
    const error = Cause.failureOption(step.cause)
    if (Option.isSome(error)) f(error.value)
  }
  return step
}

/** Effect.exit that keeps a settled step settled: an Exit becomes the success of that Exit. */
export const exitOf = <A, E, R>(step: Effect.Effect<A, E, R>): Effect.Effect<Exit.Exit<A, E>, never, R> =>
  isSettled(step) ? Exit.succeed(step) : Effect.exit(step)
