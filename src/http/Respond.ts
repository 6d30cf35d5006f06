import { errorBody, type ErrorReply } from "./ErrorResponse.js"
import type { RequestContext } from "./RequestContext.js"
import { writeHead } from "./ResponseHeaders.js"

export const sendBody = (
  ctx: RequestContext,
  status: number,
  contentType: string,
  body: string,
  headers?: Readonly<Record<string, string>>
): void => {
  const res = ctx.res
  if (res.headersSent) {
    // a second status is impossible: the client learns of the failure by the abort (SPEC §4)
    res.destroy()
    return
  }
  if (res.writableEnded || res.destroyed) return
  ctx.responseBytes = Buffer.byteLength(body)
  const own = ctx.responseHeaders
  own.set("content-type", contentType)
  own.set("content-length", ctx.responseBytes)
  own.set("cache-control", "no-store")
  if (ctx.cache !== undefined) own.set("x-cache", ctx.cache.status)
  if (headers !== undefined) for (const name in headers) own.set(name, headers[name]!)
  writeHead(ctx, status)
  res.end(body)
}

export const sendJson = (ctx: RequestContext, status: number, value: unknown): void =>
  sendBody(ctx, status, "application/json; charset=utf-8", JSON.stringify(value))

export const sendError = (ctx: RequestContext, reply: ErrorReply): void =>
  sendBody(ctx, reply.status, "application/json; charset=utf-8", errorBody(reply, ctx.requestId, ctx.plan.errorDetails), reply.headers)
