import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { eventually, gatewayPort, rawExchange, realTime } from "../support/HttpClient.js"
import { assertErrorReply, fromRaw } from "../support/HttpErrors.js"
import { echo, fastRetry, gatewayAfter, type ProxyBackend, quietBreaker, type Respond, serviceAt, startProxyBackend } from "../support/ProxyBackend.js"
import { chunkedStream, errorReplyOf, exchange, newCase, patternBytes, rawOpen, sha256 } from "../support/ProxyClient.js"
import { gatewayUrl } from "../support/TestGateway.js"

class Backend extends Context.Tag("test/ProxyBodies/Backend")<Backend, ProxyBackend>() {}

const maxBody = 64 * 1024
const big = patternBytes(5 * 1024 * 1024)
const bigHash = sha256(big)

const floodBytes = 128 * 1024 * 1024
/** Bytes each `?download=flood&case=…` answer has written so far. */
const flooded = new Map<string, number>()

/**
 * GET ?download=length|chunked: the 5 MB pattern, with or without Content-Length;
 * ?download=flood: 128 MiB as fast as the gateway takes them; else echo.
 */
const respond: Respond = (req, res, seen) => {
  const query = new URL(req.url ?? "/", "http://b").searchParams
  const mode = query.get("download")
  if (mode === null) return echo(req, res, seen)
  if (mode === "flood") {
    const id = query.get("case") ?? ""
    const chunk = Buffer.alloc(64 * 1024, 120)
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": floodBytes })
    let written = 0
    const pump = () => {
      while (written < floodBytes) {
        written += chunk.length
        flooded.set(id, written)
        if (!res.write(chunk)) return void res.once("drain", pump)
      }
      res.end()
    }
    return pump()
  }
  res.writeHead(200, mode === "length"
    ? { "content-type": "application/octet-stream", "content-length": big.length }
    : { "content-type": "application/octet-stream" })
  let at = 0
  const pump = () => {
    while (at < big.length) {
      const chunk = big.subarray(at, at + 64 * 1024)
      at += chunk.length
      if (!res.write(chunk)) return void res.once("drain", pump)
    }
    res.end()
  }
  pump()
}

const Gateway = gatewayAfter(Backend, startProxyBackend(respond), (b) => ({
  server: { max_body_bytes: maxBody },
  services: {
    market_data: serviceAt(b.url, { timeout: "10s" }),
    // a retry is possible: the body is buffered
    order_execution: serviceAt(b.url, { timeout: "5s", max_retries: 2 }),
    // no retry possible: the body streams
    strategy_engine: serviceAt(b.url, { timeout: "5s", max_retries: 0 })
  },
  retry: fastRetry,
  circuit_breaker: quietBreaker
}))

/** A JSON document of exactly `size` bytes. */
const jsonOfSize = (size: number): Buffer => {
  const frame = Buffer.from("{\"data\":\"\"}")
  const filler = patternBytes(size - frame.length).toString("base64").slice(0, size - frame.length)
  return Buffer.from(`{"data":"${filler}"}`)
}

const uploadPaths = [["buffered", "/api/v1/orders"], ["streamed", "/api/v1/strategies"]] as const

describe("Proxy", () => {
  layer(Gateway, realTime)((it) => {
    it.effect("streams a 5 MB response through intact, with and without Content-Length", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        for (const mode of ["length", "chunked"]) {
          const res = yield* exchange(`${base}/api/v1/market-data/symbols?download=${mode}`)
          assert.strictEqual(res.status, 200, mode)
          assert.isUndefined(res.failed, mode)
          assert.strictEqual(res.body.length, big.length, mode)
          assert.strictEqual(sha256(res.body), bigHash, `${mode}: the bytes arrived unchanged`)
          if (mode === "length") assert.strictEqual(res.headers.get("content-length"), String(big.length))
        }
      }))

    it.effect("reads the backend only as fast as the client reads the response (backpressure), then delivers it all", () =>
      Effect.gen(function* () {
        const id = newCase("flood")
        const socket = yield* rawOpen(yield* gatewayPort, `GET /api/v1/market-data/symbols?download=flood&case=${id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
        socket.pause() // a client that reads nothing for now
        // until the backend stalls: its count unchanged over 200 ms (bounded)
        let last = -1
        const meanwhile = yield* eventually(Effect.sync(() => {
          const now = flooded.get(id) ?? 0
          const stalled = now > 0 && now === last
          last = now
          assert.isTrue(stalled, `the backend is still writing (${now} bytes)`)
          return now
        }), { timeoutMs: 5_000, intervalMs: 200 })
        // what the socket buffers on both hops can hold, not the 128 MiB the backend would send
        assert.isBelow(meanwhile, 48 * 1024 * 1024, `the backend wrote ${meanwhile} bytes to a client reading nothing`)
        const received = yield* Effect.async<number>((resume) => {
          let bytes = 0
          let head = ""
          socket.on("data", (chunk: Buffer) => {
            if (head.length < 4096) head += chunk.toString("latin1", 0, Math.min(chunk.length, 4096))
            bytes += chunk.length
            // the gateway keeps the connection open: end it once the whole body is in
            const at = head.indexOf("\r\n\r\n")
            if (at >= 0 && bytes - at - 4 >= floodBytes) socket.end()
          })
          socket.on("close", () => resume(Effect.succeed(bytes)))
          socket.resume()
          socket.setTimeout(10_000, () => socket.destroy())
        })
        assert.isAbove(received, floodBytes, "the whole body came through once the client read it")
        assert.strictEqual(flooded.get(id), floodBytes)
      }))

    it.effect("forwards a JSON body byte for byte with its Content-Length, buffered or streamed", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const body = Buffer.from(JSON.stringify({ symbol: "ÉTH-€", qty: 1.5, note: "naïve ✓", pad: "x".repeat(20_000) }))
        for (const [label, path] of uploadPaths) {
          const id = newCase(label)
          const res = yield* exchange(`${base}${path}?case=${id}`, {
            method: "POST",
            headers: { "content-type": "application/json; charset=utf-8" },
            body
          })
          assert.strictEqual(res.status, 200, `${label}: ${res.text}`)
          const [seen] = (yield* Backend).ofCase(id)
          assert.isDefined(seen)
          assert.strictEqual(seen!.headers["content-length"], String(body.length), label)
          assert.isUndefined(seen!.headers["transfer-encoding"], label)
          assert.isTrue(seen!.body?.equals(body), `${label}: the body arrived byte-identical`)
        }
      }))

    it.effect("forwards a chunked upload (no Content-Length) intact, buffered or streamed", () =>
      Effect.gen(function* () {
        const base = yield* gatewayUrl
        const body = jsonOfSize(48 * 1024)
        for (const [label, path] of uploadPaths) {
          const id = newCase(label)
          const res = yield* exchange(`${base}${path}?case=${id}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: chunkedStream(body, 12),
            duplex: "half"
          } as RequestInit)
          assert.strictEqual(res.status, 200, `${label}: ${res.text}`)
          const [seen] = (yield* Backend).ofCase(id)
          assert.isDefined(seen)
          assert.strictEqual(sha256(seen!.body ?? Buffer.alloc(0)), sha256(body), `${label}: the body arrived intact`)
        }
      }))

    it.effect("accepts a body of exactly max_body_bytes", () =>
      Effect.gen(function* () {
        const id = newCase("limit")
        const body = jsonOfSize(maxBody)
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/orders?case=${id}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body
        })
        assert.strictEqual(res.status, 200)
        assert.strictEqual((yield* Backend).ofCase(id)[0]?.body?.length, maxBody)
      }))

    it.effect("answers 413 to a Content-Length over max_body_bytes before reading it; the backend sees nothing", () =>
      Effect.gen(function* () {
        const id = newCase("too-long")
        const reply = yield* rawExchange(
          yield* gatewayPort,
          `POST /api/v1/orders?case=${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${maxBody + 1}\r\n\r\n{"partial":`
        )
        assertErrorReply(fromRaw(reply), 413, "Request body too large")
        assert.strictEqual((yield* Backend).ofCase(id).length, 0)
      }))

    it.effect("answers 413 to a fetch upload over max_body_bytes with Content-Length", () =>
      Effect.gen(function* () {
        const id = newCase("too-long-fetch")
        const res = yield* exchange(`${yield* gatewayUrl}/api/v1/strategies?case=${id}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: jsonOfSize(maxBody + 1)
        })
        if (res.status !== undefined) assertErrorReply(errorReplyOf(res), 413, "Request body too large")
        else assert.fail(`no answer: ${res.failed?.message}`)
        assert.strictEqual((yield* Backend).ofCase(id).length, 0)
      }))

    it.effect("answers 413 to a chunked upload that grows past max_body_bytes, buffered or streamed", () =>
      Effect.gen(function* () {
        const port = yield* gatewayPort
        const body = jsonOfSize(maxBody * 2)
        const chunks = [body.subarray(0, maxBody / 2), body.subarray(maxBody / 2, maxBody + 100), body.subarray(maxBody + 100)]
        for (const [label, path] of uploadPaths) {
          const id = newCase(label)
          const payload = `POST ${path}?case=${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
            `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
            chunks.map((c) => `${c.length.toString(16)}\r\n${c.toString("latin1")}\r\n`).join("") + "0\r\n\r\n"
          const reply = yield* rawExchange(port, Buffer.from(payload, "latin1"), { timeoutMs: 5_000 })
          assertErrorReply(fromRaw(reply), 413, "Request body too large")
          const seen = (yield* Backend).ofCase(id)
          if (label === "buffered") assert.strictEqual(seen.length, 0, "a buffered body over the limit is never sent")
          // a streamed one may have started upstream: it must be cut, never completed
          yield* eventually(Effect.sync(() => {
            for (const s of seen) {
              assert.isUndefined(s.body, `${label}: the backend got a complete body`)
              assert.isDefined(s.abortedAt, `${label}: the upstream request was not cut`)
            }
          }), { timeoutMs: 2_000 })
        }
      }))
  })
})
