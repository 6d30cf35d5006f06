// Client side of the integration suites: fetch with the body read, raw sockets for what
// fetch would normalise or refuse to send, and a bounded poll for real-time conditions.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { connect } from "node:net"
import { HttpListener } from "../../src/http/Server.js"

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** The body parsed as a JSON object, or undefined when it is not one. */
  readonly json: Record<string, unknown> | undefined
  readonly elapsedMs: number
}

/** The body as a JSON object, or undefined when it is not one. */
export const parseObject = (text: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** One fetch (redirects not followed), body read to the end. */
export const send = (url: string, init: RequestInit = {}): Effect.Effect<Reply> =>
  Effect.promise(async () => {
    const started = performance.now()
    const res = await fetch(url, { redirect: "manual", ...init })
    const text = await res.text()
    return { status: res.status, headers: res.headers, text, json: parseObject(text), elapsedMs: performance.now() - started }
  })

/**
 * Runs `self` until it succeeds (a failed assertion inside is a defect: retried too),
 * every `intervalMs`, for at most `timeoutMs`; then the last failure is the test's.
 */
export const eventually = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {}
): Effect.Effect<A, E, R> =>
  self.pipe(
    Effect.sandbox,
    Effect.retry(
      Schedule.spaced(Duration.millis(options.intervalMs ?? 25)).pipe(
        Schedule.intersect(Schedule.recurUpTo(Duration.millis(options.timeoutMs ?? 3_000)))
      )
    ),
    Effect.unsandbox
  )

export interface RawReply {
  /** Undefined when no status line arrived. */
  readonly status: number | undefined
  /** Lower-cased names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** Everything the server sent. */
  readonly raw: string
  /** The server closed (or reset) the connection. */
  readonly closed: boolean
  /** Nothing complete arrived within the bound. */
  readonly timedOut: boolean
  readonly elapsedMs: number
  readonly json: Record<string, unknown> | undefined
}

interface Head {
  readonly status: number | undefined
  readonly headers: Record<string, string>
  readonly bodyStart: number
}

const parseHead = (data: Buffer): Head | undefined => {
  const end = data.indexOf("\r\n\r\n")
  if (end < 0) return undefined
  const [statusLine = "", ...lines] = data.subarray(0, end).toString("latin1").split("\r\n")
  const match = /^HTTP\/\d\.\d (\d{3})/.exec(statusLine)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(":")
    if (colon < 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  return { status: match === null ? undefined : Number(match[1]), headers, bodyStart: end + 4 }
}

/**
 * Writes `payload` to a fresh connection to 127.0.0.1:`port` and reads one response:
 * done when the response is complete (by Content-Length, or a bodiless status), when the
 * server closes, or after `timeoutMs`.
 */
export const rawExchange = (
  port: number,
  payload: string | Buffer,
  options: { readonly timeoutMs?: number } = {}
): Effect.Effect<RawReply> =>
  Effect.map(socketExchange(port, payload, { timeoutMs: options.timeoutMs ?? 3_000, complete: responseComplete }), (x) => {
    const head = parseHead(x.data)
    const body = head === undefined ? "" : x.data.subarray(head.bodyStart).toString("utf8")
    return {
      status: head?.status,
      headers: head?.headers ?? {},
      body,
      raw: x.data.toString("latin1"),
      closed: x.closed,
      timedOut: x.timedOut,
      elapsedMs: x.elapsedMs,
      json: parseObject(body)
    }
  })

/** One whole response has arrived (by Content-Length, or a bodiless status). */
const responseComplete = (data: Buffer): boolean => {
  const head = parseHead(data)
  if (head === undefined) return false
  const length = head.headers["content-length"]
  const bodiless = head.status === 204 || head.status === 304 || (head.status !== undefined && head.status < 200)
  return bodiless || (length !== undefined && data.length - head.bodyStart >= Number(length))
}

/** What one connection received: everything, and how it ended. */
export interface SocketExchange {
  readonly data: Buffer
  readonly closed: boolean
  readonly timedOut: boolean
  readonly elapsedMs: number
}

/**
 * Writes `payload` to a fresh connection and reads until `complete` says so, the server
 * closes, or `timeoutMs` passes. `latin1` sends a string byte for byte (else as UTF-8).
 */
export const socketExchange = (
  port: number,
  payload: string | Buffer,
  options: { readonly timeoutMs: number; readonly complete?: (data: Buffer) => boolean; readonly latin1?: boolean }
): Effect.Effect<SocketExchange> =>
  Effect.async<SocketExchange>((resume) => {
    const started = performance.now()
    const socket = connect(port, "127.0.0.1")
    let data = Buffer.alloc(0)
    let done = false
    const finish = (closed: boolean, timedOut: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed({ data, closed, timedOut, elapsedMs: performance.now() - started }))
    }
    const timer = setTimeout(() => finish(false, true), options.timeoutMs)
    socket.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk])
      if (options.complete?.(data) === true) finish(false, false)
    })
    socket.on("close", () => finish(true, false))
    socket.on("error", () => finish(true, false))
    socket.write(typeof payload === "string" && options.latin1 === true ? Buffer.from(payload, "latin1") : payload)
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** A request head in HTTP/1.1 with `Connection: close`, from a request line and header lines. */
export const rawRequest = (requestLine: string, headerLines: ReadonlyArray<string> = []): string =>
  `${requestLine}\r\nHost: 127.0.0.1\r\n${headerLines.map((h) => `${h}\r\n`).join("")}Connection: close\r\n\r\n`

/** The port of the gateway the layer started. */
export const gatewayPort = Effect.map(HttpListener, ({ port }) => port)

/** `layer(…, realTime)`: the gateway and the tests run on the live clock (STYLE 2.9: time is real). */
export const realTime = { excludeTestServices: true } as const
