import type { Transform } from "node:stream"
import { compressible, compressor, negotiate, variesOnEncoding } from "./Compression.js"
import type { RequestContext } from "./RequestContext.js"
import type { ForeignFields } from "./ResponseHeaders.js"

/**
 * Decides, before the response's head is written, whether to compress it: its fields are the
 * gateway's (`ctx.responseHeaders`) over `foreign` (the backend's or a cache entry's). When
 * so, sets Content-Encoding, withholds Content-Length and returns the encoder to pipe the
 * body through.
 */
export const encodeFor = (ctx: RequestContext, status: number, foreign: ForeignFields): Transform | undefined => {
  const { req } = ctx
  if (!ctx.plan.config.features.enable_compression || req.method === "HEAD") return undefined
  const own = ctx.responseHeaders
  const field = (name: string) => (own.decides(name) ? own.get(name) : foreign[name])
  const type = field("content-type")
  if (!variesOnEncoding(type)) return undefined
  own.append("vary", "Accept-Encoding")
  const encoding = negotiate(req.headers["accept-encoding"])
  if (encoding === undefined || !compressible(status, type, field("content-encoding"), field("content-length"))) return undefined
  own.set("content-encoding", encoding)
  own.withhold("content-length")
  return compressor(encoding)
}
