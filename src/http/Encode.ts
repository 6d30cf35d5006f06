import type { Transform } from "node:stream"
import { compressible, compressor, negotiate, variesOnEncoding } from "./Compression.js"
import type { RequestContext } from "./RequestContext.js"

/**
 * Decides, once the response's headers are on `ctx.res`, whether to compress it; when so,
 * rewrites the headers and returns the encoder to pipe the body through.
 */
export const encodeFor = (ctx: RequestContext, status: number): Transform | undefined => {
  const { req, res } = ctx
  if (!ctx.plan.config.features.enable_compression || req.method === "HEAD") return undefined
  const type = res.getHeader("content-type")
  if (!variesOnEncoding(type)) return undefined
  res.appendHeader("vary", "Accept-Encoding")
  const encoding = negotiate(req.headers["accept-encoding"])
  if (encoding === undefined || !compressible(status, type, res.getHeader("content-encoding"), res.getHeader("content-length"))) return undefined
  res.setHeader("content-encoding", encoding)
  res.removeHeader("content-length")
  return compressor(encoding)
}
