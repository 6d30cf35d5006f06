// A JWKS endpoint on loopback for the auth suites: serves `{ keys }` as an identity
// provider would, counts its fetches, and can switch to another key set (rotation).
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { JWK } from "jose"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"

export const jwksPath = "/.well-known/jwks.json"

export interface JwksServer {
  /** The JWKS URL, for `auth.jwks_url`. */
  readonly url: string
  /** How many times the key set was fetched. */
  readonly hits: () => number
  /** Serve another key set from now on. */
  readonly setKeys: (keys: ReadonlyArray<JWK>) => void
}

/** Started on 127.0.0.1, port 0; closed (connections too) with the scope. */
export const startJwksServer = (initial: ReadonlyArray<JWK>): Effect.Effect<JwksServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Server; readonly jwks: JwksServer }>((resume) => {
      let keys = initial
      let hits = 0
      const server = createServer((req, res) => {
        if (req.url !== jwksPath) {
          res.writeHead(404).end()
          return
        }
        hits++
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ keys }))
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          server,
          jwks: { url: `http://127.0.0.1:${port}${jwksPath}`, hits: () => hits, setKeys: (next) => void (keys = next) }
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ jwks }) => jwks))
