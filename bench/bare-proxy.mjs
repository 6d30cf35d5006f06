// bare: the Node ceiling of PERFORMANCE.md, "bare node:http + undici Pool, body piped".
// Forwards method, path, headers (minus hop-by-hop) and body to BACKEND_URL and pipes the
// answer back. No auth, no limits, no logs, no metrics.
//
// The body moves with `pipe`, not `stream.pipeline`: on Node 20 pipeline allocates an
// AbortController per call and aborts it when done (a DOMException with a stack trace), which
// made this "ceiling" ~1.8x slower than it should be and put fastify ahead of it. With pipe,
// fastify lands at ~0.63x of it, as in PERFORMANCE.md.
import { createServer } from "node:http"
import { Pool } from "undici"
import { announce, HOP_BY_HOP, HOST, keepAlive, PORT } from "./common.mjs"

const backend = process.env.BACKEND_URL
if (!backend) throw new Error("BACKEND_URL is not set")
const pool = new Pool(backend, { keepAliveTimeout: 60_000 })

const requestHeaders = (raw) => {
  const out = {}
  for (const name in raw) if (!HOP_BY_HOP.has(name)) out[name] = raw[name]
  return out
}

const server = keepAlive(createServer((req, res) => {
  const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined
  pool.request({ method: req.method, path: req.url, headers: requestHeaders(req.headers), body: hasBody ? req : null })
    .then(({ statusCode, headers, body }) => {
      const out = {}
      for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name]
      res.writeHead(statusCode, out)
      body.on("error", () => res.destroy()) // a backend failing mid-body cuts the client off
      res.on("close", () => { if (!res.writableFinished) body.destroy() }) // the client left
      body.pipe(res)
    }, () => {
      if (res.headersSent) return res.destroy()
      res.writeHead(502, { "content-type": "application/json" })
      res.end("{\"error\":\"bad gateway\"}")
    })
}))

server.listen(PORT, HOST, () => announce(server.address().port))
