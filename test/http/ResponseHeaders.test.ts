// A response's head written once (src/http/ResponseHeaders.ts), read back off a real socket:
// the gateway's fields win over a backend's on a shared name, Vary keeps both parts, a
// withheld field is absent from both, repeated values stay separate lines, and a writeHead
// that node refused leaves no trace of its status in the answer written after it.
import { assert, describe, it } from "@effect/vitest"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { connect } from "node:net"
import type { RequestContext } from "../../src/http/RequestContext.js"
import { type ForeignFields, ResponseHeaders, writeHead } from "../../src/http/ResponseHeaders.js"

/** The raw head of the one response `answer` writes, as node sent it. */
const headOf = (answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> =>
  new Promise((resolve, reject) => {
    const server = createServer(answer)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      const socket = connect(port, "127.0.0.1", () => socket.end("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
      let text = ""
      socket.setEncoding("latin1")
      socket.on("data", (chunk: string) => (text += chunk))
      socket.on("error", reject)
      socket.on("close", () => server.close(() => resolve(text.split("\r\n\r\n")[0]!)))
    })
  })

const contextOf = (req: IncomingMessage, res: ServerResponse) => ({ req, res, responseHeaders: new ResponseHeaders() }) as unknown as RequestContext

const fields = (head: string) => head.split("\r\n").slice(1).map((line) => line.toLowerCase())

describe("ResponseHeaders", () => {
  it("keeps one value per name: set replaces, append joins, withhold removes", () => {
    const h = new ResponseHeaders()
    h.set("x-request-id", "a")
    h.set("x-request-id", "b")
    h.append("vary", "Origin")
    h.append("vary", "Accept-Encoding")
    h.set("content-length", 12)
    h.withhold("content-length")
    h.withhold("etag")
    assert.deepStrictEqual(h.fields, ["x-request-id", "b", "vary", "Origin, Accept-Encoding", "content-length", undefined, "etag", undefined])
    assert.strictEqual(h.get("vary"), "Origin, Accept-Encoding")
    assert.isTrue(h.decides("etag"))
    assert.isUndefined(h.get("etag"))
    assert.isFalse(h.decides("x-cache"))
  })

  it("writes the backend's fields under the gateway's: a shared name is the gateway's, Vary is both, a withheld name neither", async () => {
    const backend: ForeignFields = {
      "content-type": "application/json",
      "content-length": "120",
      "x-request-id": "from-the-backend",
      vary: "Accept-Language",
      "set-cookie": ["a=1", "b=2"]
    }
    const head = await headOf((req, res) => {
      const ctx = contextOf(req, res)
      ctx.responseHeaders.set("x-request-id", "gw-1")
      ctx.responseHeaders.append("vary", "Origin")
      ctx.responseHeaders.set("content-encoding", "gzip")
      ctx.responseHeaders.withhold("content-length")
      writeHead(ctx, 200, backend)
      res.end("x")
    })
    const lines = fields(head)
    assert.strictEqual(head.split("\r\n")[0], "HTTP/1.1 200 OK")
    assert.includeMembers(lines, ["content-type: application/json", "x-request-id: gw-1", "vary: accept-language", "vary: origin", "set-cookie: a=1", "set-cookie: b=2", "content-encoding: gzip"])
    assert.notInclude(lines, "x-request-id: from-the-backend")
    assert.isFalse(lines.some((l) => l.startsWith("content-length:")), head)
    assert.include(lines, "transfer-encoding: chunked") // no length: node chunks the body
  })

  it("answers with its own status line after node refused a field of an earlier writeHead", async () => {
    const head = await headOf((req, res) => {
      const ctx = contextOf(req, res)
      assert.throws(() => writeHead(ctx, 200, { "x-bad": "refused\u0000" }), /Invalid character in header content/)
      assert.isFalse(res.headersSent)
      ctx.responseHeaders.set("content-length", 2)
      writeHead(ctx, 500)
      res.end("{}")
    })
    assert.strictEqual(head.split("\r\n")[0], "HTTP/1.1 500 Internal Server Error")
    assert.notInclude(head, "x-bad")
  })
})
