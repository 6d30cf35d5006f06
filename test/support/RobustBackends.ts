// Backends for the fault suites that a node:http server cannot play: one that writes its
// answer a byte at a time (head, body or both), at a pace the request's query chooses, and
// records whether the gateway cut it before it finished. On 127.0.0.1 port 0, closed with
// the scope (startRawBackend).
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Socket } from "node:net"
import { type RawBackend, startRawBackend } from "./ProxyBackend.js"

export interface Drip {
  /** Milliseconds between the bytes of the head; 0 sends it at once. */
  readonly headMs: number
  /** Milliseconds between the bytes of the body; 0 sends it at once. */
  readonly bodyMs: number
  readonly body: string
}

export interface DripExchange {
  readonly url: string
  /** The gateway closed the connection before the whole answer was written. */
  cut: boolean
  finished: boolean
}

export interface DripBackend extends RawBackend {
  readonly exchanges: Array<DripExchange>
}

/** The pace of one request, from its query: `head=<ms>&body=<ms>&size=<bytes>`. */
export const dripQuery = (d: { readonly headMs?: number; readonly bodyMs?: number; readonly size?: number }, caseId: string): string =>
  `case=${caseId}&head=${d.headMs ?? 0}&body=${d.bodyMs ?? 0}&size=${d.size ?? 20}`

/** The JSON body a drip of `size` bytes carries. */
export const dripBody = (size: number): string => {
  const pad = Math.max(0, size - `{"pad":""}`.length)
  return `{"pad":"${"x".repeat(pad)}"}`
}

const paceOf = (url: string): Drip => {
  const q = new URL(url, "http://backend").searchParams
  return { headMs: Number(q.get("head") ?? 0), bodyMs: Number(q.get("body") ?? 0), body: dripBody(Number(q.get("size") ?? 20)) }
}

/** Writes `bytes` one at a time every `ms` (all at once for 0); calls `done` when all are out, never after a close. */
const writeSlowly = (socket: Socket, bytes: Buffer, ms: number, done: () => void): void => {
  if (ms <= 0) {
    socket.write(bytes, () => done())
    return
  }
  let at = 0
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer)
    socket.write(bytes.subarray(at, at + 1))
    at++
    if (at >= bytes.length) {
      clearInterval(timer)
      done()
    }
  }, ms)
  socket.once("close", () => clearInterval(timer))
}

export const startDripBackend: Effect.Effect<DripBackend, never, Scope.Scope> = Effect.suspend(() => {
  const exchanges: Array<DripExchange> = []
  const onConnection = (socket: Socket) => {
    let request = ""
    const onData = (chunk: Buffer) => {
      request += chunk.toString("latin1")
      if (!request.includes("\r\n\r\n")) return
      socket.off("data", onData)
      const url = request.split(" ")[1] ?? "/"
      const pace = paceOf(url)
      const exchange: DripExchange = { url, cut: false, finished: false }
      exchanges.push(exchange)
      socket.once("close", () => {
        if (!exchange.finished) exchange.cut = true
      })
      const head = Buffer.from(
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(pace.body)}\r\nConnection: close\r\n\r\n`,
        "latin1"
      )
      writeSlowly(socket, head, pace.headMs, () =>
        writeSlowly(socket, Buffer.from(pace.body), pace.bodyMs, () => {
          exchange.finished = true
          socket.end()
        }))
    }
    socket.on("data", onData)
  }
  return Effect.map(startRawBackend(onConnection), (raw) => ({ ...raw, exchanges }))
})

/** The drips of one case. */
export const dripsOf = (backend: DripBackend, caseId: string): ReadonlyArray<DripExchange> =>
  backend.exchanges.filter((e) => new URL(e.url, "http://backend").searchParams.get("case") === caseId)
