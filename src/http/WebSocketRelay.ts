// One proxied WebSocket session (SPEC §4): messages piped both ways as they came (text
// or binary), close codes and reasons passed through, a sender paused while its peer
// has too much unsent.
import { WebSocket } from "ws"

export interface SessionEnd {
  /** The close code that ended the session on the client's side. */
  readonly code: number
  readonly closedBy: "client" | "backend" | "gateway"
}

export interface Relay {
  /** Shutdown: both sides closed with 1001. */
  readonly goAway: () => void
  /** Both sockets destroyed without a closing handshake. */
  readonly terminate: () => void
}

export interface RelayHooks {
  /** The client's socket closed: once. */
  readonly clientClosed: (end: SessionEnd) => void
  /** Both sockets closed: once, after clientClosed. */
  readonly finished: () => void
}

const highWater = 1 << 20

// 1005 (no code) and 1006 (no close frame) may not be sent: a side that vanished is
// reported to the other as going away (1001), or as a server error (1011) when it failed.
const codeToward = (code: number, failed: boolean): number | undefined => {
  if ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)) return code
  if (code === 1005) return undefined
  return code === 1006 && !failed ? 1001 : 1011
}

/** What ws sent a peer that broke the protocol (RFC 6455 §7.4.1). */
const protocolCode = (error: Error): number | undefined => {
  const code = (error as NodeJS.ErrnoException).code ?? ""
  if (code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") return 1009
  if (code === "WS_ERR_INVALID_UTF8") return 1007
  return code.startsWith("WS_ERR_") ? 1002 : undefined
}

const asBuffer = (data: WebSocket.RawData): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)

const pipe = (from: WebSocket, to: WebSocket): void => {
  let unsent = 0
  from.on("message", (data, isBinary) => {
    if (to.readyState !== WebSocket.OPEN) return
    const message = asBuffer(data)
    unsent += message.length
    if (unsent > highWater) from.pause()
    to.send(message, { binary: isBinary }, () => {
      unsent -= message.length
      if (from.isPaused && unsent <= highWater / 2) from.resume()
    })
  })
}

const close = (socket: WebSocket, code: number | undefined, reason?: Buffer): void => {
  if (socket.isPaused) socket.resume() // the closing handshake needs the peer's close frame read
  if (socket.readyState !== WebSocket.OPEN) return
  if (code === undefined) socket.close()
  else socket.close(code, reason)
}

export const relay = (client: WebSocket, backend: WebSocket, hooks: RelayHooks): Relay => {
  let end: SessionEnd | undefined
  let backendFailed = false
  let open = 2
  const decide = (code: number, closedBy: SessionEnd["closedBy"]): SessionEnd => (end ??= { code, closedBy })
  const closed = () => {
    if (--open === 0) hooks.finished()
  }

  pipe(client, backend)
  pipe(backend, client)
  client.on("error", (error) => {
    const code = protocolCode(error)
    if (code !== undefined) decide(code, "gateway")
  })
  backend.on("error", () => {
    backendFailed = true
  })
  backend.once("close", (code, reason) => {
    const toward = codeToward(code, backendFailed)
    decide(toward ?? 1005, "backend")
    close(client, toward, reason)
    closed()
  })
  client.once("close", (code, reason) => {
    const ended = decide(code, "client")
    close(backend, codeToward(code, false), reason)
    hooks.clientClosed(ended)
    closed()
  })

  return {
    goAway: () => {
      decide(1001, "gateway")
      close(client, 1001)
      close(backend, 1001)
    },
    terminate: () => {
      client.terminate()
      backend.terminate()
    }
  }
}
