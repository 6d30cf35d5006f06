// experiment: bare proxy with pool.dispatch and a direct handler (no Readable, no pipe)
import { createServer } from "node:http"
import { Pool } from "undici"
import { announce, HOP_BY_HOP, HOST, keepAlive, PORT } from "./common.mjs"
const pool = new Pool(process.env.BACKEND_URL, { keepAliveTimeout: 60_000 })
const requestHeaders = (raw) => { const out = {}; for (const name in raw) if (!HOP_BY_HOP.has(name)) out[name] = raw[name]; return out }
const server = keepAlive(createServer((req, res) => {
  let ctl
  pool.dispatch({ method: req.method, path: req.url, headers: requestHeaders(req.headers), body: null }, {
    onRequestStart(c) { ctl = c },
    onResponseStart(c, statusCode, headers) {
      const out = {}
      for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name]
      res.writeHead(statusCode, out)
    },
    onResponseData(c, chunk) { if (!res.write(chunk)) { c.pause(); res.once("drain", () => c.resume()) } },
    onResponseEnd() { res.end() },
    onResponseError(c, err) { if (res.headersSent) res.destroy(); else { res.writeHead(502); res.end() } }
  })
}))
server.listen(PORT, HOST, () => announce(server.address().port))
