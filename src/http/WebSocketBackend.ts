// The backend side of a WebSocket session (SPEC §4): one ws client per session, opened
// before the client's upgrade is answered so a failure can still be a 502/504.
import { WebSocket } from "ws"
import { BadGateway, type GatewayError, GatewayTimeout } from "../domain/Errors.js"

export interface BackendTarget {
  readonly service: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly protocols: ReadonlyArray<string>
  readonly timeoutMs: number
  readonly maxPayload: number
}

export type Dialled =
  | { readonly _tag: "Open"; readonly socket: WebSocket; readonly protocol: string | undefined }
  | { readonly _tag: "Failed"; readonly error: GatewayError }

export interface Dial {
  /** Gives up on the backend; `done` is told `error` unless it was told already. */
  readonly abort: (error: GatewayError) => void
}

const refused = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])
const reset = new Set(["ECONNRESET", "EPIPE"])

const failureOf = (service: string, error: Error): GatewayError => {
  const code = (error as NodeJS.ErrnoException).code ?? ""
  const kind = refused.has(code) ? "connection_refused" : reset.has(code) ? "reset" : "bad_response"
  return new BadGateway({ service, kind, detail: error.message })
}

/** Opens the backend socket; `done` is called exactly once. Connect timeout: the service's timeout. */
export const dialBackend = (target: BackendTarget, done: (result: Dialled) => void): Dial => {
  let settled = false
  let verdict: GatewayError | undefined
  let chosen: string | undefined
  const settle = (result: Dialled) => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    done(result)
  }
  const giveUp = (error: GatewayError) => {
    verdict ??= error
    socket.terminate()
  }

  const socket = new WebSocket(target.url, {
    headers: target.headers,
    perMessageDeflate: false,
    followRedirects: false,
    maxPayload: target.maxPayload
  })
  const timer = setTimeout(
    () => giveUp(new GatewayTimeout({ service: target.service, detail: `no WebSocket handshake within ${target.timeoutMs} ms` })),
    target.timeoutMs
  )
  // ws refuses a backend that picks no subprotocol when some were offered, which RFC 6455
  // allows: the offer goes in as a plain header and the backend's pick is checked here.
  socket.on("upgrade", (res) => {
    const picked = res.headers["sec-websocket-protocol"]
    delete res.headers["sec-websocket-protocol"]
    chosen = picked?.trim()
    if (chosen !== undefined && !target.protocols.includes(chosen)) {
      giveUp(new BadGateway({ service: target.service, kind: "bad_response", detail: `subprotocol ${chosen} was not offered` }))
    }
  })
  socket.once("open", () => settle({ _tag: "Open", socket, protocol: chosen }))
  // stays attached for the socket's life: the relay adds its own, but an error is never unhandled
  socket.on("error", (error) => settle({ _tag: "Failed", error: verdict ?? failureOf(target.service, error) }))
  return {
    abort: (error) => {
      if (!settled) giveUp(error)
    }
  }
}
