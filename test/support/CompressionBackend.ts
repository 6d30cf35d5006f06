// The compression suites' backend and client (SPEC §4 Proxying, features.enable_compression):
// the backend answers a body of the size and type the query asks for (with a Content-Length,
// chunked, or already gzip-encoded); the client reads raw bytes, since fetch would decode them.
import * as Effect from "effect/Effect"
import { type IncomingHttpHeaders, request } from "node:http"
import { brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib"
import type { BackendHandler } from "./HttpBackend.js"

/** `size` bytes of JSON, the same for the same size: what the backend sends. */
export const bodyOf = (size: number): Buffer => {
  const head = "{\"pad\":\""
  const tail = "\"}"
  const fill = Math.max(0, size - head.length - tail.length)
  const words = "price volume bid ask spread ticker "
  const pad = words.repeat(Math.ceil(fill / words.length)).slice(0, fill)
  return Buffer.from(`${head}${pad}${tail}`, "utf8")
}

export interface Shape {
  readonly size?: number
  readonly type?: string
  /** No Content-Length: the body goes out in chunks. */
  readonly chunked?: boolean
  /** The backend gzips the body itself and says so in Content-Encoding. */
  readonly gzipped?: boolean
}

/** The query that makes the backend answer with `shape`. */
export const shapeQuery = (shape: Shape): string => {
  const q = new URLSearchParams()
  if (shape.size !== undefined) q.set("size", String(shape.size))
  if (shape.type !== undefined) q.set("type", shape.type)
  if (shape.chunked === true) q.set("chunked", "1")
  if (shape.gzipped === true) q.set("gzipped", "1")
  return q.toString()
}

/** The bytes the backend puts on the wire for `shape`. */
export const wireBodyOf = (shape: Shape): Buffer => {
  const body = bodyOf(shape.size ?? 4_096)
  return shape.gzipped === true ? gzipSync(body) : body
}

/** Answers 200 with the body `shapeQuery` asked for; HEAD gets the headers only. */
export const compressionHandler: BackendHandler = (req, res) => {
  const query = new URLSearchParams((req.url ?? "").split("?")[1] ?? "")
  const shape: Shape = {
    size: Number(query.get("size") ?? "4096"),
    type: query.get("type") ?? "application/json",
    chunked: query.get("chunked") === "1",
    gzipped: query.get("gzipped") === "1"
  }
  const body = wireBodyOf(shape)
  const headers: Record<string, string> = { "content-type": shape.type ?? "application/json" }
  if (shape.gzipped === true) headers["content-encoding"] = "gzip"
  if (shape.chunked !== true) headers["content-length"] = String(body.length)
  res.writeHead(200, headers)
  if (req.method === "HEAD") return void res.end()
  if (shape.chunked !== true) return void res.end(body)
  for (let at = 0; at < body.length; at += 512) res.write(body.subarray(at, Math.min(body.length, at + 512)))
  res.end()
}

export interface RawBody {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** The bytes as they arrived, still encoded. */
  readonly body: Buffer
}

/** One request with exactly `headers` (no Accept-Encoding unless given), the body not decoded. */
export const fetchRaw = (
  url: string,
  options: { readonly method?: string; readonly headers?: Record<string, string>; readonly timeoutMs?: number } = {}
): Effect.Effect<RawBody> =>
  Effect.async<RawBody>((resume) => {
    const req = request(url, { method: options.method ?? "GET", headers: options.headers ?? {}, agent: false, timeout: options.timeoutMs ?? 5_000 }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })))
      res.on("error", (e) => resume(Effect.dieMessage(`response failed: ${e.message}`)))
    })
    req.on("timeout", () => req.destroy(new Error("request timed out")))
    req.on("error", (e) => resume(Effect.dieMessage(`request failed: ${e.message}`)))
    req.end()
    return Effect.sync(() => void req.destroy())
  })

/** The body decoded by its Content-Encoding (br, gzip, or none). */
export const decodedBody = (reply: RawBody): Buffer => {
  const encoding = reply.headers["content-encoding"]
  if (encoding === "br") return brotliDecompressSync(reply.body)
  if (encoding === "gzip") return gunzipSync(reply.body)
  if (encoding === undefined || encoding === "identity") return reply.body
  throw new Error(`unexpected Content-Encoding: ${encoding}`)
}

/** The Vary header's names, lower-cased. */
export const varyOf = (reply: RawBody): Array<string> =>
  String(reply.headers.vary ?? "").split(",").map((n) => n.trim().toLowerCase()).filter((n) => n !== "")
