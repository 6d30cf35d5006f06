// otlp-sink: a loopback OTLP/HTTP traces receiver standing in for Jaeger in the tracing
// scenarios. `POST /v1/traces` (protobuf or JSON, gzip or not) is read to the end, counted and
// answered 200 with an empty body of the request's content type: an empty body is a valid empty
// ExportTraceServiceResponse in both encodings (the exporter reads it as "no partial success").
// Nothing is decoded: the sink shares the load generator's core, so it does as little as it can.
//
// Counts are kept per `?source=` query parameter (the bench gives each gateway target its own,
// so the two sample ratios can be told apart) and served as JSON on `GET /stats`.
import { createServer } from "node:http"
import { announce, HOST, keepAlive, PORT } from "./common.mjs"

const stats = { requests: 0, bytes: 0, sources: {} }

const count = (source, bytes) => {
  const s = (stats.sources[source] ??= { requests: 0, bytes: 0 })
  s.requests++
  s.bytes += bytes
  stats.requests++
  stats.bytes += bytes
}

const answer = (res, status, contentType, body = "") => {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) })
  res.end(body)
}

const server = keepAlive(createServer((req, res) => {
  const url = new URL(req.url, "http://sink")
  if (url.pathname === "/stats" && req.method === "GET") return answer(res, 200, "application/json", JSON.stringify(stats))
  if (url.pathname !== "/v1/traces") {
    req.resume()
    return answer(res, 404, "text/plain", "not found\n")
  }
  if (req.method !== "POST") {
    req.resume()
    return answer(res, 405, "text/plain", "POST only\n")
  }
  let bytes = 0
  req.on("data", (chunk) => { bytes += chunk.length })
  req.on("end", () => {
    count(url.searchParams.get("source") ?? "-", bytes)
    const json = (req.headers["content-type"] ?? "").startsWith("application/json")
    answer(res, 200, json ? "application/json" : "application/x-protobuf")
  })
  req.on("error", () => res.destroy())
}))

server.listen(PORT, HOST, () => announce(server.address().port))
