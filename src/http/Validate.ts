// The validation stage (SPEC §4): refused paths, duplicated Host and credentials, body size by
// Content-Length, body media type. Pure checks over the request head: O(headers).
import * as Exit from "effect/Exit"
import type { IncomingMessage } from "node:http"
import { BadRequest, BodyTooLarge, HeadersTooLarge, UnsupportedMediaType } from "../domain/Errors.js"
import { isRefusal, type ParsedTarget, type RequestPath } from "../domain/RequestPath.js"

const jsonType = /^application\/(?:json|[a-z0-9!#$&^_.+-]+\+json)\s*(?:;|$)/i

/**
 * Node keeps only the first Host and Authorization header: duplicates are found in
 * rawHeaders. Two Hosts are a 400 by RFC 9112 §3.2; two credentials would let the gateway
 * and a backend disagree on who is calling.
 */
const duplicatedSingleton = (raw: ReadonlyArray<string>): string | undefined => {
  let auth = 0
  let key = 0
  let host = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length === 13 && name.toLowerCase() === "authorization") auth++
    else if (name.length === 9 && name.toLowerCase() === "x-api-key") key++
    else if (name.length === 4 && name.toLowerCase() === "host") host++
  }
  if (host > 1) return "duplicated Host header"
  return auth > 1 ? "duplicated Authorization header" : key > 1 ? "duplicated X-API-Key header" : undefined
}

export const hasBody = (req: IncomingMessage): boolean => {
  const length = req.headers["content-length"]
  return (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined
}

/** node:http's parser keeps 2000 name/value entries (1000 headers) and drops the rest without a word. */
const nodeMaxHeaderEntries = 2000

/** `target` is parseTarget(req.url), worked out (and remembered) by the plan's resolver. */
export const validate = (req: IncomingMessage, maxBodyBytes: number, target: ParsedTarget): Exit.Exit<RequestPath, BadRequest | BodyTooLarge | HeadersTooLarge | UnsupportedMediaType> => {
  // node reads a request line without a version as HTTP/0.9: not HTTP/1.x, refused (SPEC §6)
  if (req.httpVersionMajor !== 1) return Exit.fail(new BadRequest({ reason: `unsupported HTTP version ${req.httpVersion}` }))
  // a head cut at node's count would hide a Content-Length, a second X-API-Key… from every check (SPEC §6)
  if (req.rawHeaders.length >= nodeMaxHeaderEntries) return Exit.fail(new HeadersTooLarge())
  if (isRefusal(target)) return Exit.fail(new BadRequest({ reason: `refused path: ${target}` }))
  const duplicated = duplicatedSingleton(req.rawHeaders)
  if (duplicated !== undefined) return Exit.fail(new BadRequest({ reason: duplicated }))
  const te = req.headers["transfer-encoding"]
  // only chunked framing is forwarded; a coding the backend would have to undo is refused (RFC 9112 §6.1)
  if (te !== undefined && te.trim().toLowerCase() !== "chunked") return Exit.fail(new BadRequest({ reason: `unsupported Transfer-Encoding: ${te}` }))
  const length = req.headers["content-length"]
  if (length !== undefined && Number(length) > maxBodyBytes) return Exit.fail(new BodyTooLarge({ limit: maxBodyBytes }))
  const method = req.method
  if ((method === "POST" || method === "PUT" || method === "PATCH") && hasBody(req)) {
    const type = req.headers["content-type"] ?? ""
    if (!jsonType.test(type)) return Exit.fail(new UnsupportedMediaType({ contentType: type }))
  }
  return Exit.succeed(target)
}
