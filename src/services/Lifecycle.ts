import * as Context from "effect/Context"

/** Whether the process is draining (SPEC §1: readiness answers 503 from the first signal). */
export class Lifecycle extends Context.Tag("gateway/Lifecycle")<
  Lifecycle,
  {
    readonly isShuttingDown: () => boolean
    readonly beginShutdown: () => void
  }
>() {}
