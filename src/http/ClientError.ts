// Requests node:http refuses before any handler runs (SPEC §4, §6): oversized headers
// (431), a client too slow to send its request (408), anything unparsable (400). They get
// the same JSON body as every other error, then the connection is closed.
import type { Duplex } from "node:stream"
import { newRequestId } from "../domain/RequestId.js"

const answers: Record<string, readonly [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, "Request Header Fields Too Large", "Request header fields too large"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout", "Request timeout"]
}
const badRequest = [400, "Bad Request", "Bad request"] as const

export const clientErrorStatus = (code: string | undefined): number => (answers[code ?? ""] ?? badRequest)[0]

/** What was answered, for the access log and the request metrics. */
export interface ClientErrorReply {
  readonly status: number
  readonly requestId: string
  readonly responseBytes: number
}

export const answerClientError = (error: NodeJS.ErrnoException, socket: Duplex): ClientErrorReply | undefined => {
  const busy = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true
  if (error.code === "ECONNRESET" || !socket.writable || busy) {
    socket.destroy()
    return undefined
  }
  const [status, reason, message] = answers[error.code ?? ""] ?? badRequest
  const requestId = newRequestId()
  const body = JSON.stringify({ error: message, request_id: requestId })
  const responseBytes = Buffer.byteLength(body)
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${responseBytes}\r\n` +
      `x-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`
  )
  return { status, requestId, responseBytes }
}
