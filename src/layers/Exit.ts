// How the process ends (SPEC §1): a refused config prints one line per problem and exits
// 2; a signal drains and exits 0; anything else that stops start-up is one line and 1.
import type { Teardown } from "@effect/platform/Runtime"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

const describe = (e: unknown): string =>
  e instanceof Error ? `${e.name === "Error" ? "" : `${e.name}: `}${e.message}` : String(e)

export const exitCode: Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return onExit(0)
  const failure = Option.getOrUndefined(Cause.failureOption(exit.cause)) as unknown
  if (typeof failure === "object" && failure !== null && (failure as { _tag?: string })._tag === "ConfigInvalid") {
    const { problems } = failure as { problems: ReadonlyArray<string> }
    process.stderr.write(problems.map((p) => `${p}\n`).join(""))
    return onExit(2)
  }
  const defect = failure ?? Cause.squash(exit.cause)
  process.stderr.write(`the gateway could not start: ${describe(defect)}\n`)
  return onExit(1)
}
