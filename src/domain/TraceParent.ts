// W3C trace context (SPEC §4): the client's trace id with a new span id, or a new trace.
import { randomFillSync } from "node:crypto"

// random bytes drawn 4 KiB at a time and turned into hex once: an id is then a slice of that
// string (no call into C++ a request; a slice keeps its 8 KiB parent alive while it lives)
const pool = Buffer.alloc(4096)
let hexPool = ""
let offset = pool.length

const randomHex = (bytes: number): string => {
  if (offset + bytes > pool.length) {
    randomFillSync(pool)
    hexPool = pool.toString("hex")
    offset = 0
  }
  const hex = hexPool.slice(offset * 2, (offset + bytes) * 2)
  offset += bytes
  return hex
}

export const newTraceId = (): string => randomHex(16)
export const newSpanId = (): string => randomHex(8)

const valid = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export interface TraceParent {
  readonly traceId: string
  readonly parentSpanId: string | undefined
  readonly sampled: boolean
}

export const parseTraceParent = (header: string | Array<string> | undefined): TraceParent | undefined => {
  if (typeof header !== "string") return undefined
  const m = valid.exec(header.trim())
  if (m === null || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined
  return { traceId: m[1]!, parentSpanId: m[2]!, sampled: (parseInt(m[3]!, 16) & 1) === 1 }
}

export const formatTraceParent = (traceId: string, spanId: string, sampled: boolean): string =>
  `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`
