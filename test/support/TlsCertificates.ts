// The TLS suites' certificates and clients: self-signed pairs made by openssl in a
// temporary directory (removed with the scope), HTTPS requests and bare TLS handshakes
// against 127.0.0.1, every wait bounded.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import type { IncomingHttpHeaders } from "node:http"
import { request } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { connect, type SecureVersion } from "node:tls"

export interface CertificatePair {
  readonly certFile: string
  readonly keyFile: string
  /** The certificate's PEM: the clients trust it as their CA. */
  readonly cert: Buffer
}

const openssl = (args: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const child = execFile("openssl", [...args], { timeout: 30_000 }, (error, _stdout, stderr) => {
      resume(error === null ? Effect.void : Effect.dieMessage(`openssl ${args.join(" ")} failed: ${error.message}\n${stderr}`))
    })
    return Effect.sync(() => void child.kill())
  })

/** A temporary directory for certificates, removed with the scope. */
export const certificateDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "gateway-tls-test-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

/** `openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost` into `dir`, files named after `name`. */
export const makeCertificate = (dir: string, name: string): Effect.Effect<CertificatePair> =>
  Effect.gen(function* () {
    const certFile = join(dir, `${name}-c.pem`)
    const keyFile = join(dir, `${name}-k.pem`)
    yield* openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=localhost"])
    const cert = yield* Effect.promise(() => readFile(certFile))
    return { certFile, keyFile, cert }
  })

export interface HttpsReply {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** The negotiated protocol, e.g. "TLSv1.3". */
  readonly protocol: string | null
}

/**
 * One HTTPS request to 127.0.0.1:`port`, verifying the server against `ca` with the name
 * "localhost" (the certificate's CN); a fresh connection each time.
 */
export const httpsRequest = (
  port: number,
  path: string,
  options: { readonly ca: Buffer; readonly method?: string; readonly headers?: Record<string, string>; readonly timeoutMs?: number }
): Effect.Effect<HttpsReply> =>
  Effect.async<HttpsReply>((resume) => {
    const req = request({
      host: "127.0.0.1",
      port,
      path,
      method: options.method ?? "GET",
      headers: options.headers ?? {},
      ca: options.ca,
      servername: "localhost",
      agent: false,
      timeout: options.timeoutMs ?? 5_000
    }, (res) => {
      let body = ""
      res.setEncoding("utf8").on("data", (s: string) => void (body += s))
      res.on("end", () => {
        const socket = res.socket as { getProtocol?: () => string | null }
        resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body, protocol: socket.getProtocol?.() ?? null }))
      })
      res.on("error", (e) => resume(Effect.dieMessage(`HTTPS response failed: ${e.message}`)))
    })
    req.on("timeout", () => req.destroy(new Error("HTTPS request timed out")))
    req.on("error", (e) => resume(Effect.dieMessage(`HTTPS request failed: ${e.message}`)))
    req.end()
    return Effect.sync(() => void req.destroy())
  })

export type Handshake =
  | { readonly _tag: "Connected"; readonly protocol: string | null }
  | { readonly _tag: "Refused"; readonly message: string }

/** A bare TLS handshake with the versions the client allows; bounded by `timeoutMs`. */
export const handshake = (
  port: number,
  versions: { readonly minVersion?: SecureVersion; readonly maxVersion?: SecureVersion },
  timeoutMs = 5_000
): Effect.Effect<Handshake> =>
  Effect.async<Handshake>((resume) => {
    let done = false
    const finish = (h: Handshake) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed(h))
    }
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false, ...versions })
    const timer = setTimeout(() => finish({ _tag: "Refused", message: `no handshake within ${timeoutMs} ms` }), timeoutMs)
    socket.once("secureConnect", () => finish({ _tag: "Connected", protocol: socket.getProtocol() }))
    socket.once("error", (e) => finish({ _tag: "Refused", message: e.message }))
    socket.once("close", () => finish({ _tag: "Refused", message: "closed before the handshake completed" }))
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
      socket.destroy()
    })
  })
