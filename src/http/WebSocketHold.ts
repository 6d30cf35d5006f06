// While the backend is dialled the client's upgrade socket sits unread, so a client
// that leaves would go unnoticed (no read, no EOF, no 'close') and keep its slot. It is
// read meanwhile; bytes that arrive early are kept for ws.
import type { Duplex } from "node:stream"

export interface Held {
  /** Stops reading; returns the head with the bytes read since, the socket as node's 'upgrade' gave it. */
  readonly release: () => Buffer
}

/** Reads `socket` until released; a client that leaves, or sends more than `limit` bytes unasked, is destroyed. */
export const holdUpgrade = (socket: Duplex, head: Buffer, limit: number): Held => {
  let early = head
  const onData = (chunk: Buffer) => {
    early = early.length === 0 ? chunk : Buffer.concat([early, chunk])
    if (early.length > limit) socket.destroy()
  }
  const onEnd = () => socket.destroy()
  socket.on("data", onData)
  socket.once("end", onEnd)
  return {
    release: () => {
      socket.pause()
      socket.off("data", onData)
      socket.off("end", onEnd)
      // as node's http server leaves it before 'upgrade': ws's 'data' listener starts the flow
      ;(socket as { readableFlowing: boolean | null }).readableFlowing = null
      return early
    }
  }
}
