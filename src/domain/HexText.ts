// Random ids as text written byte by byte into a buffer, many at a time, then read out as one
// string whose slices are the ids (RequestId.ts, TraceParent.ts): each id is then a flat
// string, which V8's regular expressions (node's and undici's header checks) and writes take
// as it is, where an id built with `+` or a template would be flattened first.

const hexDigits = Buffer.from("0123456789abcdef", "latin1")

/** Writes `src[from..to)` as lower-case hex into `dst` at `at`; returns the index after it. */
export const writeHex = (src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): number => {
  for (let i = from; i < to; i++) {
    const b = src[i]!
    dst[at++] = hexDigits[b >> 4]!
    dst[at++] = hexDigits[b & 15]!
  }
  return at
}

/**
 * Records of `length` characters made `count` at a time: `fill` writes them into one buffer, which
 * is read out as one string, and each call returns the next record as a flat slice of it.
 */
export const pooledRecords = (length: number, count: number, fill: (text: Buffer) => void): () => string => {
  const text = Buffer.alloc(length * count)
  let pool = ""
  let next = count
  return () => {
    if (next === count) {
      fill(text)
      pool = text.toString("latin1")
      next = 0
    }
    const at = next++ * length
    return pool.slice(at, at + length)
  }
}
