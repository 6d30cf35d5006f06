// New request ids (SPEC §4 Request id): random UUIDs, version 4. node's `randomUUID` keeps a
// pool of random bytes too, but builds each id from twenty pieces, a string that is flattened
// again wherever it is first checked or written (the response's field, the upstream request's,
// the access line): ~580 bytes of garbage a request. Here the ids are written 64 at a time as
// text into one buffer, read out as one string, and each id is a slice of it. A slice keeps its
// 2.3 KB parent alive while it lives: a request's lifetime, or an open WebSocket session's,
// which holds its request's context (a few KB more) anyway.
import { randomFillSync } from "node:crypto"
import { pooledRecords, writeHex } from "./HexText.js"

const perPool = 64
const random = Buffer.alloc(16 * perPool)
const dash = 0x2d

/** A new random UUID (version 4), lower-case, as `crypto.randomUUID` gives. */
export const newRequestId: () => string = pooledRecords(36, perPool, (text) => {
  randomFillSync(random)
  let out = 0
  for (let i = 0; i < random.length; i += 16) {
    random[i + 6] = (random[i + 6]! & 0x0f) | 0x40 // version 4
    random[i + 8] = (random[i + 8]! & 0x3f) | 0x80 // the RFC 9562 variant
    out = writeHex(random, i, i + 4, text, out)
    text[out++] = dash
    out = writeHex(random, i + 4, i + 6, text, out)
    text[out++] = dash
    out = writeHex(random, i + 6, i + 8, text, out)
    text[out++] = dash
    out = writeHex(random, i + 8, i + 10, text, out)
    text[out++] = dash
    out = writeHex(random, i + 10, i + 16, text, out)
  }
})
