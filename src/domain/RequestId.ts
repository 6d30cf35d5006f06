// New request ids (SPEC §4 Request id): random UUIDs, version 4. node's `randomUUID` keeps a
// pool of random bytes too, but builds each id from twenty pieces, a string that is flattened
// again wherever it is first checked or written (the response's field, the upstream request's,
// the access line): ~580 bytes of garbage a request. Here the ids are written 64 at a time as
// text into one buffer, read out as one string, and each id is a slice of it. A slice keeps its
// 2.3 KB parent alive while it lives: a request's lifetime, or an open WebSocket session's,
// which holds its request's context (a few KB more) anyway.
import { randomFillSync } from "node:crypto"

const perPool = 64
const random = Buffer.alloc(16 * perPool)
const text = Buffer.alloc(36 * perPool)
const hexDigits = Buffer.from("0123456789abcdef", "latin1")
let pool = ""
let next = perPool

const refill = () => {
  randomFillSync(random)
  let out = 0
  for (let i = 0; i < random.length; i++) {
    const j = i & 15
    if (j === 4 || j === 6 || j === 8 || j === 10) text[out++] = 0x2d // "-"
    let b = random[i]!
    if (j === 6) b = (b & 0x0f) | 0x40 // version 4
    else if (j === 8) b = (b & 0x3f) | 0x80 // the RFC 9562 variant
    text[out++] = hexDigits[b >> 4]!
    text[out++] = hexDigits[b & 15]!
  }
  pool = text.toString("latin1")
  next = 0
}

/** A new random UUID (version 4), lower-case, as `crypto.randomUUID` gives. */
export const newRequestId = (): string => {
  if (next === perPool) refill()
  const at = next++ * 36
  return pool.slice(at, at + 36)
}
