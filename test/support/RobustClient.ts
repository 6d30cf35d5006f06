// Client side of the robustness suites: raw conversations that may carry several
// (pipelined or smuggled) requests, read until the server closes, every response parsed in
// order; and the checks every hostile case ends with (SPEC §6: the §4 answer or a closed
// connection, never a gateway 5xx, the gateway still serving).
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { assertErrorReply } from "./HttpErrors.js"
import { parseObject, socketExchange } from "./HttpClient.js"

export interface RawResponse {
  readonly status: number
  /** Lower-cased names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  readonly json: Record<string, unknown> | undefined
}

export interface Conversation {
  /** Every complete response, in order. */
  readonly responses: ReadonlyArray<RawResponse>
  readonly statuses: ReadonlyArray<number>
  /** Everything the server sent, latin1. */
  readonly raw: string
  /** The server closed (or reset) the connection. */
  readonly closed: boolean
  /** The bound passed with the connection still open. */
  readonly timedOut: boolean
  readonly elapsedMs: number
}

/** The complete responses at the start of `data`: Content-Length, chunked or bodiless framing. */
export const parseResponses = (data: Buffer): Array<RawResponse> => {
  const out: Array<RawResponse> = []
  let at = 0
  for (;;) {
    const end = data.indexOf("\r\n\r\n", at)
    if (end < 0) return out
    const [statusLine = "", ...lines] = data.subarray(at, end).toString("latin1").split("\r\n")
    const match = /^HTTP\/\d\.\d (\d{3})/.exec(statusLine)
    if (match === null) return out
    const status = Number(match[1])
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(":")
      if (colon < 0) continue
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    }
    let bodyStart = end + 4
    let body: Buffer
    if (status === 204 || status === 304 || status < 200) {
      body = Buffer.alloc(0)
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"])
      if (data.length - bodyStart < length) return out
      body = data.subarray(bodyStart, bodyStart + length)
      bodyStart += length
    } else if ((headers["transfer-encoding"] ?? "").toLowerCase().includes("chunked")) {
      const chunks: Array<Buffer> = []
      let p = bodyStart
      for (;;) {
        const lineEnd = data.indexOf("\r\n", p)
        if (lineEnd < 0) return out
        const size = parseInt(data.subarray(p, lineEnd).toString("latin1"), 16)
        if (Number.isNaN(size)) return out
        if (size === 0) {
          const trailerEnd = data.indexOf("\r\n\r\n", lineEnd)
          if (trailerEnd < 0) return out
          p = trailerEnd + 4
          break
        }
        if (data.length < lineEnd + 2 + size + 2) return out
        chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
        p = lineEnd + 2 + size + 2
      }
      body = Buffer.concat(chunks)
      bodyStart = p
    } else {
      body = data.subarray(bodyStart) // until the close
      bodyStart = data.length
    }
    const text = body.toString("utf8")
    out.push({ status, headers, body: text, json: parseObject(text) })
    at = bodyStart
  }
}

/**
 * Writes `payload` (a string is sent as latin1, byte for byte) to a fresh connection and
 * reads until the server closes, or `timeoutMs` passes; then parses every response.
 */
export const converse = (
  port: number,
  payload: string | Buffer,
  options: { readonly timeoutMs?: number } = {}
): Effect.Effect<Conversation> =>
  Effect.map(socketExchange(port, payload, { timeoutMs: options.timeoutMs ?? 5_000, latin1: true }), (x) => {
    const responses = parseResponses(x.data)
    return {
      responses,
      statuses: responses.map((r) => r.status),
      raw: x.data.toString("latin1"),
      closed: x.closed,
      timedOut: !x.closed,
      elapsedMs: x.elapsedMs
    }
  })

/** One request head: request line, Host, the given lines, and `Connection: close` unless `keepAlive`. */
export const head = (requestLine: string, lines: ReadonlyArray<string> = [], options: { readonly keepAlive?: boolean } = {}): string =>
  `${requestLine}\r\nHost: 127.0.0.1\r\n${lines.map((l) => `${l}\r\n`).join("")}${options.keepAlive === true ? "" : "Connection: close\r\n"}\r\n`

/** `count` distinct small header lines, about 10 bytes each: `x-<i in base 36>: <digit>`. */
export const floodLines = (count: number): Array<string> => Array.from({ length: count }, (_, i) => `x-${i.toString(36)}: ${i % 10}`)

/**
 * SPEC §6: every response is a 4xx from `allowed` with the §4 JSON error body, and the
 * exchange ended (answered and closed, or closed without an answer) within its bound.
 */
export const assertRefused = (c: Conversation, allowed: ReadonlyArray<number>, what: string): void => {
  assert.isFalse(c.timedOut, `${what}: the gateway neither answered nor closed (${c.raw.slice(0, 120)})`)
  for (const r of c.responses) {
    assert.isBelow(r.status, 500, `${what}: a ${r.status} from the gateway`)
    assert.include(allowed, r.status, `${what}: got ${r.status} ${r.body.slice(0, 120)}`)
    assertErrorReply({ status: r.status, json: r.json, requestId: r.headers["x-request-id"] }, r.status, String(r.json?.error))
  }
  if (c.responses.length === 0) assert.isTrue(c.closed, `${what}: no answer and not closed`)
}
