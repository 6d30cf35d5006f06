// A fault injector for the defect suites: while installed, a request carrying
// `X-Robust-Defect: <header name>` makes node refuse that header of its response, once: the
// value handed to ServerResponse#writeHead (or #setHeader) gets a NUL, so node itself throws
// its ERR_INVALID_CHAR TypeError, as for a backend header it cannot write. It stands for any
// bug that throws while a request is answered, at a point the test chooses. The backends in
// the same process are left alone (their requests carry the gateway's X-Gateway-Version).
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

const poisoned = "refused\u0000"

/** Patches ServerResponse.prototype.writeHead and setHeader for the scope's life; restored with it. */
export const injectDefects: Effect.Effect<DefectInjector, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const original = { writeHead: ServerResponse.prototype.writeHead, setHeader: ServerResponse.prototype.setHeader }
    const hit = new WeakSet<ServerResponse>()
    let thrown = 0
    /** Whether this response's field `name` is the one to refuse (once per response). */
    const refuse = (res: ServerResponse, name: unknown): boolean => {
      // the test's backends run in this process too: a request that came through the gateway is theirs
      if (res.req?.headers["x-gateway-version"] !== undefined) return false
      const wanted = res.req?.headers[defectHeader]
      if (typeof wanted !== "string" || typeof name !== "string" || wanted.toLowerCase() !== name.toLowerCase() || hit.has(res)) return false
      hit.add(res)
      thrown++
      return true
    }
    const writeHead = function (this: ServerResponse, status: number, reason?: unknown, fields?: unknown) {
      const [list, rest] = typeof reason === "string" ? [fields, [reason]] : [reason, []]
      let given: unknown = list
      if (Array.isArray(list) && typeof list[0] !== "object") {
        const i = list.findIndex((name, at) => at % 2 === 0 && refuse(this, name))
        if (i !== -1) given = list.map((v, at) => (at === i + 1 ? poisoned : v))
      } else if (list !== null && typeof list === "object" && !Array.isArray(list)) {
        const name = Object.keys(list).find((n) => refuse(this, n))
        if (name !== undefined) given = { ...list, [name]: poisoned }
      }
      return (original.writeHead as (...args: Array<unknown>) => ServerResponse).call(this, status, ...rest, given)
    }
    const setHeader = function (this: ServerResponse, name: string, value: number | string | ReadonlyArray<string>) {
      return original.setHeader.call(this, name, refuse(this, name) ? poisoned : value as OutgoingHttpHeader)
    }
    ServerResponse.prototype.writeHead = writeHead as typeof original.writeHead
    ServerResponse.prototype.setHeader = setHeader as typeof original.setHeader
    return { original, injector: { thrown: () => thrown } }
  }),
  ({ original }) => Effect.sync(() => Object.assign(ServerResponse.prototype, original))
).pipe(Effect.map(({ injector }) => injector))

export class Injector extends Context.Tag("test/RobustDefects/Injector")<Injector, DefectInjector>() {}

/** The injector installed for a layer's life (merge it next to the gateway layer). */
export const InjectorLive = Layer.scoped(Injector, injectDefects)
