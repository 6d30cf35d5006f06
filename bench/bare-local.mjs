// bare-local: a bare node:http server answering the backend's JSON bytes itself. The ceiling for
// anything the gateway answers without an upstream call (cache hits, /health/liveness).
import { createServer } from "node:http"
import { announce, HOST, keepAlive, PAYLOAD, PORT } from "./common.mjs"

const server = keepAlive(createServer((req, res) => {
  req.resume()
  res.writeHead(200, { "content-type": "application/json", "content-length": PAYLOAD.length })
  res.end(PAYLOAD)
}))

server.listen(PORT, HOST, () => announce(server.address().port))
