// A segment trie built once per config snapshot (like Caddy's Compile): static segments
// win over parameters, and a failed static branch falls back to the parameter one.
import type { Method } from "./RouteTable.js"

interface Node<R> {
  readonly statics: Map<string, Node<R>>
  param: Node<R> | undefined
  readonly methods: Map<string, R>
}

const node = <R>(): Node<R> => ({ statics: new Map(), param: undefined, methods: new Map() })

export type RouteMatch<R> =
  | { readonly _tag: "Found"; readonly route: R }
  | { readonly _tag: "MethodNotAllowed"; readonly allow: string }
  | { readonly _tag: "NotFound" }

const notFound = { _tag: "NotFound" } as const

export interface Router<R> {
  readonly match: (method: string, segments: ReadonlyArray<string>) => RouteMatch<R>
}

const methodOrder: ReadonlyArray<Method> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

export const makeRouter = <R extends { readonly method: Method; readonly template: string }>(
  routes: ReadonlyArray<R>
): Router<R> => {
  const root = node<R>()
  for (const route of routes) {
    let at = root
    for (const seg of route.template.split("/").filter((s) => s !== "")) {
      if (seg.startsWith(":")) at = at.param ??= node()
      else {
        let next = at.statics.get(seg)
        if (next === undefined) at.statics.set(seg, (next = node()))
        at = next
      }
    }
    at.methods.set(route.method, route)
    // HEAD is served wherever GET is (RFC 9110 §9.3.2); the backend answers it
    if (route.method === "GET" && !at.methods.has("HEAD")) at.methods.set("HEAD", route)
  }
  const allowCache = new WeakMap<Node<R>, string>()
  const allowOf = (n: Node<R>): string => {
    let allow = allowCache.get(n)
    if (allow === undefined) {
      allow = methodOrder.filter((m) => n.methods.has(m)).join(", ")
      allowCache.set(n, allow)
    }
    return allow
  }
  const find = (at: Node<R>, segments: ReadonlyArray<string>, i: number): Node<R> | undefined => {
    if (i === segments.length) return at.methods.size > 0 ? at : undefined
    const seg = segments[i]!
    const s = at.statics.get(seg)
    if (s !== undefined) {
      const found = find(s, segments, i + 1)
      if (found !== undefined) return found
    }
    return at.param === undefined ? undefined : find(at.param, segments, i + 1)
  }
  return {
    match: (method, segments) => {
      const n = find(root, segments, 0)
      if (n === undefined) return notFound
      const route = n.methods.get(method)
      return route === undefined ? { _tag: "MethodNotAllowed", allow: allowOf(n) } : { _tag: "Found", route }
    }
  }
}
