// SPEC §3: no spelling of a path may reach a route its caller's role does not allow.
// A target is refused when any segment is empty, "." or "..", percent-encodes "/", "\"
// or ".", or decodes to a control byte, a backslash or invalid UTF-8.

export interface RequestPath {
  /** The path as the client wrote it (forwarded unchanged). */
  readonly raw: string
  /** The query without "?", as written ("" when absent). */
  readonly query: string
  /** Decoded segments, without the one tolerated trailing slash. */
  readonly segments: ReadonlyArray<string>
  /** "/" + segments: what routes, limits and cache rules are matched against. */
  readonly normalized: string
}

export type PathRefusal =
  | "not-origin-form"
  | "forbidden-character"
  | "empty-segment"
  | "dot-segment"
  | "encoded-separator"
  | "bad-encoding"

export type ParsedTarget = RequestPath | PathRefusal

const absoluteForm = /^https?:\/\/[^/?#]*/i

const encodedForbidden = /%(2f|5c|2e)/i

const hasControl = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f || c === 0x5c) return true
  }
  return false
}

export const parseTarget = (target: string): ParsedTarget => {
  let url = target
  if (url.charCodeAt(0) !== 0x2f) {
    const abs = absoluteForm.exec(url) // RFC 9112 §3.2.2: servers accept absolute-form
    if (abs === null) return "not-origin-form"
    url = url.slice(abs[0].length)
    if (url === "" || url.charCodeAt(0) === 0x3f) url = `/${url}`
  }
  const q = url.indexOf("?")
  const raw = q < 0 ? url : url.slice(0, q)
  const query = q < 0 ? "" : url.slice(q + 1)
  let percent = false
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f || c === 0x5c) return "forbidden-character"
    if (c === 0x25) percent = true
  }
  if (raw === "/") return { raw, query, segments: [], normalized: "/" }
  const trailing = raw.charCodeAt(raw.length - 1) === 0x2f
  const body = trailing ? raw.slice(1, -1) : raw.slice(1)
  const parts = body.split("/")
  if (percent && encodedForbidden.test(body)) return "encoded-separator"
  for (let i = 0; i < parts.length; i++) {
    let seg = parts[i]!
    if (seg === "") return "empty-segment"
    if (percent && seg.includes("%")) {
      try {
        seg = decodeURIComponent(seg)
      } catch {
        return "bad-encoding"
      }
      if (hasControl(seg)) return "forbidden-character"
      parts[i] = seg
    }
    if (seg === "." || seg === "..") return "dot-segment"
  }
  // nothing decoded: the normalized path is the raw one, without a trailing slash
  return { raw, query, segments: parts, normalized: percent ? `/${parts.join("/")}` : trailing ? raw.slice(0, -1) : raw }
}

export const isRefusal = (p: ParsedTarget): p is PathRefusal => typeof p === "string"

/** Longest configured prefix of `path` that ends on a segment boundary (SPEC §4). */
export const longestPrefix = (prefixes: ReadonlyArray<string>, path: string): string | undefined => {
  let best: string | undefined
  for (const p of prefixes) {
    const prefix = p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p
    const boundary = prefix === "/" || path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 0x2f)
    if (boundary && (best === undefined || p.length > best.length)) best = p
  }
  return best
}
