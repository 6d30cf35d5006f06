// JSON.stringify of a string, without its call for the common string that needs no escape:
// the log line writers and the cache key build JSON by hand around it.

// what JSON.stringify writes unchanged between quotes: no quote, backslash, control
// character or surrogate (a lone surrogate is escaped; a pair is not, but is rare here)
// eslint-disable-next-line no-control-regex -- the control characters are what it looks for
const plain = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/

/** Whether JSON.stringify(s) is s between quotes. */
export const isPlain = (s: string): boolean => plain.test(s)

export const jsonString = (s: string): string => (plain.test(s) ? `"${s}"` : JSON.stringify(s))
