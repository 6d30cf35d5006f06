// features.enable_compression (SPEC §4): gzip or brotli, as the client accepts, for
// compressible types over 1 KiB (or of unknown length) that the backend did not encode.
import { constants, createBrotliCompress, createGzip } from "node:zlib"
import type { Transform } from "node:stream"

export type Encoding = "br" | "gzip"

const compressibleType = /^(?:application\/(?:json|[a-z0-9.+-]+\+json|javascript|xml)|text\/[a-z0-9.+-]+|image\/svg\+xml)\s*(?:;|$)/i

/** br when accepted, else gzip; `identity` and q=0 are honoured. */
export const negotiate = (acceptEncoding: string | undefined): Encoding | undefined => {
  if (acceptEncoding === undefined || acceptEncoding === "") return undefined
  let br = false
  let gzip = false
  for (const part of acceptEncoding.toLowerCase().split(",")) {
    const [name = "", ...params] = part.trim().split(";")
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="))
    if (q !== undefined && Number(q.slice(2)) <= 0) continue
    if (name === "br") br = true
    else if (name === "gzip" || name === "*") gzip = true
  }
  return br ? "br" : gzip ? "gzip" : undefined
}

type Value = string | ReadonlyArray<string> | number | undefined

const text = (v: Value): string => (v === undefined ? "" : Array.isArray(v) ? v.join(",") : String(v))

export const compressible = (status: number, contentType: Value, contentEncoding: Value, contentLength: Value): boolean => {
  if (status < 200 || status === 204 || status === 206 || status === 304) return false
  if (text(contentEncoding) !== "" && text(contentEncoding).toLowerCase() !== "identity") return false
  if (!compressibleType.test(text(contentType))) return false
  const length = text(contentLength)
  return length === "" || Number(length) > 1024
}

/** Whether the type is one we would compress, whatever its size: such responses vary on Accept-Encoding. */
export const variesOnEncoding = (contentType: Value): boolean => compressibleType.test(text(contentType))

export const compressor = (encoding: Encoding): Transform =>
  encoding === "br"
    ? createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }) // quality 11 costs ~50x the CPU
    : createGzip({ level: 6 })
