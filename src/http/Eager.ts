// Checks without a fiber when nothing in them waits: the fiber Runtime.runSyncExit forked per
// request was ~10 % of a cache hit's CPU in a profile (removed in 65fdc78). Exit is an Effect: a step that is already
// settled (a memory bucket, a remembered API key or token, the breaker's state) returns one, and
// `eager` takes it at once. A step that waits for one reply (a Redis round trip) is a `callback`:
// an Effect.async whose registration `eager` and `runStep` can also call directly, so the rest of
// the body goes on in the reply's callback, again without a fiber; a fiber held across the round
// trip cost more than the round trip's own I/O (PERFORMANCE.md: 75–190 µs). Any other step (a
// JWT still to verify) continues the rest of the body as an ordinary Effect, run by a fiber.
// The body stays one typed Effect either way: errors in the error channel, yielded with `yield*`,
// and every value here can be run as an Effect by anything that runs Effects.
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

/** Called once with what the step goes on as: an Exit, another callback, or any Effect. */
export type Register<A, E, R> = (resume: (next: Effect.Effect<A, E, R>) => void) => void

const registerKey = Symbol.for("gateway/Eager/register")

/**
 * Effect.async(register), which `eager` and `runStep` run by calling `register` themselves, with
 * no fiber. `register` must call `resume` exactly once and must not throw.
 */
export const callback = <A, E = never, R = never>(register: Register<A, E, R>): Effect.Effect<A, E, R> =>
  Object.assign(Effect.async<A, E, R>((resume) => register(resume)), { [registerKey]: register })

/** The registration of a `callback` step; undefined for any other Effect (combinators drop it). */
export const registerOf = <A, E, R>(step: Effect.Effect<A, E, R>): Register<A, E, R> | undefined =>
  (step as { readonly [registerKey]?: Register<A, E, R> })[registerKey]

/**
 * `then` applied to the step's Exit: at once for a settled step, in the resume of a callback
 * (which stays a callback), else `otherwise` (an Effect combinator, for a fiber to run).
 */
const andThen = <A, E, R, B, E2, R2>(
  step: Effect.Effect<A, E, R>,
  then: (exit: Exit.Exit<A, E>) => Effect.Effect<B, E2, R2>,
  otherwise: (step: Effect.Effect<A, E, R>) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E2, R2> => {
  if (isSettled(step)) return then(step)
  const register = registerOf(step)
  if (register === undefined) return otherwise(step)
  return callback((resume) => register((next) => resume(andThen(next, then, otherwise))))
}

/**
 * Runs a step to its Exit: a settled one at once, a callback by calling its registration (and
 * so on with what it resumes with), anything else on a fiber of `runFork`.
 */
export const runStep = <A, E>(
  step: Effect.Effect<A, E>,
  runFork: <X, Y>(effect: Effect.Effect<X, Y>) => { addObserver: (observer: (exit: Exit.Exit<X, Y>) => void) => void },
  onExit: (exit: Exit.Exit<A, E>) => void
): void => {
  if (isSettled(step)) return onExit(step)
  const register = registerOf(step)
  if (register === undefined) return runFork(step).addObserver(onExit)
  try {
    register((next) => runStep(next, runFork, onExit))
  } catch (defect) {
    onExit(Exit.die(defect))
  }
}

const drive = <A>(body: Iterator<Step, A, unknown>, input: unknown): Effect.Effect<unknown, unknown, unknown> => {
  try {
    let state = body.next(input)
    while (state.done !== true) {
      const step: Effect.Effect<unknown, unknown, unknown> = yieldWrapGet(state.value)
      if (!isSettled(step)) {
        // the body goes on in the callback's resume, or on a fiber for any other Effect
        return andThen(step, (exit) => (Exit.isFailure(exit) ? exit : drive(body, exit.value)), (s) => Effect.flatMap(s, (value) => drive(body, value)))
      }
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

/** Effect.onExit with a synchronous side effect, keeping a settled step settled and a callback a callback. */
export const onSettled = <A, E, R>(step: Effect.Effect<A, E, R>, f: (exit: Exit.Exit<A, E>) => void): Effect.Effect<A, E, R> =>
  andThen(step, (exit) => {
    f(exit)
    return exit
  }, (s) => Effect.onExit(s, (exit) => Effect.sync(() => f(exit))))

/** Effect.tapError with a synchronous side effect, keeping a settled step settled and a callback a callback. */
export const tapFailure = <A, E, R>(step: Effect.Effect<A, E, R>, f: (error: E) => void): Effect.Effect<A, E, R> =>
  onSettled(step, (exit) => {
    if (Exit.isSuccess(exit)) return
    const error = Cause.failureOption(exit.cause)
    if (Option.isSome(error)) f(error.value)
  })

/** Effect.exit that keeps a settled step settled (an Exit becomes the success of that Exit) and a callback a callback. */
export const exitOf = <A, E, R>(step: Effect.Effect<A, E, R>): Effect.Effect<Exit.Exit<A, E>, never, R> =>
  andThen(step, Exit.succeed, Effect.exit)
