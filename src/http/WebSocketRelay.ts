// One proxied WebSocket session (SPEC §4): messages piped both ways as they came (text
// or binary), close codes and reasons passed through, a sender paused while its peer
// has too much unsent, and each side pinged so one that went silent is dropped.
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

/**
 * Pings `socket` every `intervalMs`; a peer that has sent nothing since the last ping, not
 * even its pong, is gone (a client whose NAT or proxy forgot the connection, a backend that
 * hung) and `dead` hears it, once. A side the relay paused (its peer's backlog) is not read,
 * so its silence then proves nothing: that round is skipped.
 */
const keepAlive = (socket: WebSocket, intervalMs: number, dead: () => void): void => {
  if (intervalMs <= 0) return
  let heard = true
  const alive = () => {
    heard = true
  }
  socket.on("pong", alive)
  socket.on("ping", alive)
  socket.on("message", alive)
  const timer = setInterval(() => {
    if (socket.readyState !== WebSocket.OPEN) return
    if (socket.isPaused) {
      heard = true
      return
    }
    if (!heard) {
      clearInterval(timer)
      return dead()
    }
    heard = false
    socket.ping()
  }, intervalMs)
  timer.unref()
  socket.once("close", () => clearInterval(timer))
}

const close = (socket: WebSocket, code: number | undefined, reason?: Buffer): void => {
  if (socket.isPaused) socket.resume() // the closing handshake needs the peer's close frame read
  if (socket.readyState !== WebSocket.OPEN) return
  if (code === undefined) socket.close()
  else socket.close(code, reason)
}

/** `pingIntervalMs`: websocket.ping_interval when the session opened (0: no pings). */
export const relay = (client: WebSocket, backend: WebSocket, hooks: RelayHooks, pingIntervalMs = 0): Relay => {
  let end: SessionEnd | undefined
  let backendFailed = false
  let open = 2
  const decide = (code: number, closedBy: SessionEnd["closedBy"]): SessionEnd => (end ??= { code, closedBy })
  const closed = () => {
    if (--open === 0) hooks.finished()
  }

  pipe(client, backend)
  pipe(backend, client)
  // a silent client: the backend is told it went away (1001); a silent backend: the client is
  // told so (1001); either way the log says the gateway ended the session
  keepAlive(client, pingIntervalMs, () => {
    decide(1006, "gateway")
    client.terminate()
  })
  keepAlive(backend, pingIntervalMs, () => {
    decide(1001, "gateway")
    backend.terminate()
  })
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
