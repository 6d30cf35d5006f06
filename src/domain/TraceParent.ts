// W3C trace context (SPEC §4): the client's trace id with a new span id, or a new trace.
import { randomFillSync } from "node:crypto"
import { pooledRecords, writeHex } from "./HexText.js"

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

// the traceparent of a new trace that is not sampled (the proxy's common case: no traceparent
// came, no span is recorded), 64 at a time as one text, each a flat slice of it (HexText.ts):
// made with a template, undici's header check flattened it on V8's slow path, ~1.7k
// instructions a request (bench/count.mjs)
const traceBytes = Buffer.alloc(24 * 64)

// the version, flags and dashes stored byte by byte: text.write("00-") was a call into C++,
// three a record (~4k instructions a request, bench/count.mjs)
const zero = 0x30
const dash = 0x2d

/** `00-<new trace id>-<new span id>-00` (55 characters): a new trace, not sampled; `traceIdOf` reads its trace id. */
export const newUnsampledTraceParent: () => string = pooledRecords(55, 64, (text) => {
  randomFillSync(traceBytes)
  let out = 0
  for (let i = 0; i < traceBytes.length; i += 24) {
    text[out++] = zero
    text[out++] = zero
    text[out++] = dash
    out = writeHex(traceBytes, i, i + 16, text, out)
    text[out++] = dash
    out = writeHex(traceBytes, i + 16, i + 24, text, out)
    text[out++] = dash
    text[out++] = zero
    text[out++] = zero
  }
})

/** The trace id of a traceparent of version 00 that is known to be valid. */
export const traceIdOf = (traceparent: string): string => traceparent.slice(3, 35)

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
