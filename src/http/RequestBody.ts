// Request bodies: buffered (at most max_body_bytes) only when a retry is possible, else
// streamed; a body without Content-Length is counted as it streams (SPEC §4: 413).
import type { IncomingMessage } from "node:http"
import { Transform, type TransformCallback } from "node:stream"

export type Buffered = Buffer | "too-large" | "aborted"

export const bufferBody = (req: IncomingMessage, limit: number, done: (body: Buffered) => void): void => {
  const chunks: Array<Buffer> = []
  let size = 0
  let settled = false
  const settle = (body: Buffered) => {
    if (settled) return
    settled = true
    req.off("data", onData)
    done(body)
  }
  const onData = (chunk: Buffer) => {
    size += chunk.length
    if (size > limit) {
      req.pause()
      settle("too-large")
    } else chunks.push(chunk)
  }
  req.on("data", onData)
  req.once("end", () => settle(Buffer.concat(chunks, size)))
  req.once("error", () => settle("aborted"))
  req.once("close", () => settle(req.complete ? Buffer.concat(chunks, size) : "aborted"))
}

/** Passes a chunked body through, failing it once it grows past the limit. */
export class LimitedBody extends Transform {
  size = 0
  exceeded = false
  constructor(private readonly limit: number, private readonly onExceeded: () => void) {
    super()
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length
    if (this.size > this.limit) {
      this.exceeded = true
      this.onExceeded()
      callback(new Error("request body too large"))
    } else callback(null, chunk)
  }
}
