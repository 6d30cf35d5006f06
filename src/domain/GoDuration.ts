// Go-style duration strings (SPEC §1): "500us", "100ms", "5s", "2m", "24h", "1m30s".
// Decoded to milliseconds: the unit every timer and Schedule here takes.
const unitMillis: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000
}

const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y

/** Milliseconds, or undefined when the text is not a Go duration. */
export const parseGoDuration = (text: string): number | undefined => {
  if (text === "0") return 0
  if (text.length === 0) return undefined
  let total = 0
  part.lastIndex = 0
  while (part.lastIndex < text.length) {
    const at = part.lastIndex
    const m = part.exec(text)
    if (m === null || m.index !== at) return undefined
    total += Number(m[1]) * unitMillis[m[2]!]!
  }
  return total
}

/** The inverse, for messages and the admin view: 90000 → "1m30s". */
export const formatGoDuration = (millis: number): string => {
  if (millis === 0) return "0s"
  const out: Array<string> = []
  let rest = millis
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (rest >= size) {
      const n = Math.floor(rest / size)
      out.push(`${n}${unit}`)
      rest -= n * size
    }
  }
  if (rest > 0) out.push(Number.isInteger(rest) ? `${rest}ms` : `${Math.round(rest * 1000)}us`)
  return out.join("")
}
