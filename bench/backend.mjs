// The loopback backend behind every proxy: node:http with keep-alive, a ~100-byte JSON body
// for every request (the bench only sends GETs; other methods get the same answer after their
// body is read), and {"status":"ok"} on /health.
import { createServer } from "node:http"
import { announce, HEALTH_PAYLOAD, HOST, keepAlive, PAYLOAD, PORT } from "./common.mjs"

const answer = (res, bytes) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": bytes.length })
  res.end(bytes)
}

const server = keepAlive(createServer((req, res) => {
  const bytes = req.url === "/health" || req.url.startsWith("/health?") ? HEALTH_PAYLOAD : PAYLOAD
  if (req.method === "GET" || req.method === "HEAD") return answer(res, bytes)
  req.resume()
  req.on("end", () => answer(res, bytes))
}))

server.listen(PORT, HOST, () => announce(server.address().port))
