// Shared by the benchmark's helper processes (backend, bare proxy, fastify proxy, bare-local,
// otlp-sink; the runners' own shared code is in bench/harness.mjs).
// Each helper listens on 127.0.0.1, port from env PORT (0 = any free port), prints one line
// `LISTENING <port>` on stdout for bench/run.mjs, and exits as soon as its stdin closes, so it
// cannot outlive the runner even if the runner is killed with SIGKILL.

/** The small JSON answer (~100 bytes) of the backend and of bare-local: the same bytes. */
export const PAYLOAD = Buffer.from(
  JSON.stringify({ symbol: "BTC-USD", price: 67234.51, bid: 67234.5, ask: 67234.52, volume: 1234.5678, ts: 1700000000000 })
)
export const HEALTH_PAYLOAD = Buffer.from(JSON.stringify({ status: "ok" }))

export const HOST = "127.0.0.1"
export const PORT = Number(process.env.PORT ?? 0)

/** Hop-by-hop headers (RFC 9110 §7.6.1) a proxy must not forward. */
export const HOP_BY_HOP = new Set([
  "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
  "te", "trailer", "transfer-encoding", "upgrade"
])

/** Call once the server listens: tell the runner the port, die with the runner. */
export const announce = (port) => {
  process.stdout.write(`LISTENING ${port}\n`)
  process.stdin.on("end", () => process.exit(0))
  process.stdin.on("error", () => process.exit(0))
  process.stdin.resume()
  process.on("SIGTERM", () => process.exit(0))
  process.on("SIGINT", () => process.exit(0))
}

/** For node:http servers: keep client connections open through a whole run. */
export const keepAlive = (server) => {
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  return server
}
