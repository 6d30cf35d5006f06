// A fault injector for the defect suites: while installed, a request carrying
// `X-Robust-Defect: <header name>` makes node's ServerResponse#setHeader throw, once for
// that response, the TypeError node throws for a header it refuses to set. It stands for
// any bug that throws while a request is answered, at a point the test chooses.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type OutgoingHttpHeader, ServerResponse } from "node:http"

export const defectHeader = "x-robust-defect"

export interface DefectInjector {
  /** How many times the injector has thrown. */
  readonly thrown: () => number
}

const refusal = (name: string): TypeError =>
  Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), { code: "ERR_INVALID_CHAR" })

/** Patches ServerResponse.prototype.setHeader for the scope's life; restored with it. */
export const injectDefects: Effect.Effect<DefectInjector, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const original = ServerResponse.prototype.setHeader
    const hit = new WeakSet<ServerResponse>()
    let thrown = 0
    const patched = function (this: ServerResponse, name: string, value: number | string | ReadonlyArray<string>) {
      const wanted = this.req?.headers[defectHeader]
      if (typeof wanted === "string" && wanted.toLowerCase() === name.toLowerCase() && !hit.has(this)) {
        hit.add(this)
        thrown++
        throw refusal(name)
      }
      return original.call(this, name, value as OutgoingHttpHeader)
    }
    ServerResponse.prototype.setHeader = patched as typeof original
    return { original, injector: { thrown: () => thrown } }
  }),
  ({ original }) => Effect.sync(() => void (ServerResponse.prototype.setHeader = original))
).pipe(Effect.map(({ injector }) => injector))

export class Injector extends Context.Tag("test/RobustDefects/Injector")<Injector, DefectInjector>() {}

/** The injector installed for a layer's life (merge it next to the gateway layer). */
export const InjectorLive = Layer.scoped(Injector, injectDefects)
