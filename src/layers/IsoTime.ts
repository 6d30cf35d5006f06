// Log lines' timestamps: Date#toISOString's text, made from the current second's prefix
// (formatted once a second) and the millisecond's three digits. toISOString costs ~0.5 µs on
// this machine and ran once a millisecond; under callgrind, where every request takes several
// milliseconds, it was ~7k instructions of each access line (libc's vsnprintf and V8's date
// formatting), which hid what the rest of the line costs.

const millis = Array.from({ length: 1_000 }, (_, i) => String(i).padStart(3, "0"))

/** ms (an integer, as Date.now gives) → new Date(ms).toISOString(), remembering the last second. */
export const makeIsoTime = (): (ms: number) => string => {
  let lastMs = Number.NaN
  let lastIso = ""
  let lastSecond = Number.NaN
  let prefix = "" // "2026-11-30T03:45:12."
  return (ms) => {
    if (ms === lastMs) return lastIso
    const second = Math.floor(ms / 1_000)
    if (second !== lastSecond) {
      lastSecond = second
      const iso = new Date(second * 1_000).toISOString() // "….000Z", whatever the year's width
      prefix = iso.slice(0, iso.length - 4)
    }
    lastMs = ms
    lastIso = `${prefix}${millis[ms - second * 1_000]}Z`
    return lastIso
  }
}
