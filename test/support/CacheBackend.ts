// The cache suites' backend and client (SPEC §4 Cache): every answer carries a serial
// number, so a test tells a stored response from a fresh one, and the last path segment
// picks how the backend answers (no-store, Set-Cookie, 404, a body over 1 MiB, …).
import * as Effect from "effect/Effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { Backend, BackendHandler } from "./HttpBackend.js"
import { type Reply, send } from "./HttpClient.js"
import { parsePrometheus, samplesOf } from "./HttpPrometheus.js"
import { gatewayUrl } from "./TestGateway.js"

export const oneMiB = 1_048_576

type Doc = Record<string, unknown>

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers })
  res.end(text)
}

/** `size` bytes starting with the serial; with a Content-Length, or chunked in 64 KiB pieces. */
const blob = (res: ServerResponse, n: number, size: number, withLength: boolean) => {
  const body = Buffer.alloc(size, "x")
  body.write(`${n}:`)
  res.writeHead(200, { "content-type": "text/plain", ...(withLength ? { "content-length": String(size) } : {}) })
  if (withLength) return void res.end(body)
  for (let at = 0; at < size; at += 65_536) res.write(body.subarray(at, Math.min(size, at + 65_536)))
  res.end()
}

const lastSegment = (req: IncomingMessage) => ((req.url ?? "").split("?")[0] ?? "").split("/").filter((s) => s !== "").pop() ?? ""

const respond = (req: IncomingMessage, res: ServerResponse, n: number) => {
  const last = lastSegment(req)
  const body = { n, url: req.url, caller: req.headers["x-auth-user"] ?? null, lang: req.headers["accept-language"] ?? null }
  switch (last) {
    case "no-store":
      return json(res, 200, body, { "cache-control": "no-store" })
    case "private":
      return json(res, 200, body, { "cache-control": "private, max-age=60" })
    case "cookie":
      return json(res, 200, body, { "set-cookie": "session=s3cr3t; Path=/; HttpOnly" })
    case "not-found":
      return json(res, 404, { ...body, error: "no such symbol" })
    case "error":
      return json(res, 500, { ...body, error: "backend failed" })
    case "vary-star":
      return json(res, 200, body, { vary: "*" })
    case "vary-lang":
      return json(res, 200, body, { vary: "Accept-Language" })
    case "big":
      return blob(res, n, oneMiB + 1, true)
    case "big-chunked":
      return blob(res, n, oneMiB + 1, false)
    case "exact":
      return blob(res, n, oneMiB, true)
    case "reset":
      return void req.socket.destroy()
    default:
      return json(res, 200, body, { "cache-control": "public, max-age=60" })
  }
}

/**
 * Holds the backend's answers to requests carrying `gate=1` in their query while closed,
 * so a test can let every concurrent client reach the gateway before the backend answers.
 */
export class Gate {
  private opened = true
  private waiting: Array<() => void> = []

  close(): void {
    this.opened = false
  }

  open(): void {
    this.opened = true
    const waiting = this.waiting
    this.waiting = []
    for (const resolve of waiting) resolve()
  }

  /** Runs `f` now if open, else when opened. */
  pass(f: () => void): void {
    if (this.opened) f()
    else this.waiting.push(f)
  }
}

/** The cache suites' backend handler, answering after `delayMs` (a path ending in /slow: 300 ms), gated by `gate`. */
export const cacheHandler = (delayMs = 0, gate?: Gate): BackendHandler => {
  let serial = 0
  return (req, res) => {
    const n = ++serial
    const wait = delayMs > 0 ? delayMs : lastSegment(req) === "slow" ? 300 : 0
    const answer = () => (wait <= 0 ? respond(req, res, n) : void setTimeout(() => respond(req, res, n), wait))
    if (gate !== undefined && /[?&]gate=1(&|$)/.test(req.url ?? "")) gate.pass(answer)
    else answer()
  }
}

/** Services of the suites at their backends, without retries, breakers out of the way unless `over` says. */
export const cacheServices = (market: Backend, account: Backend, over: Doc = {}): Doc => ({
  services: {
    market_data: { url: market.url, max_retries: 0 },
    order_execution: { url: market.url, max_retries: 0 },
    dashboard_server: { url: market.url, max_retries: 0 },
    account_monitor: { url: account.url, max_retries: 0 },
    ...(over.services as Doc | undefined)
  },
  circuit_breaker: { min_requests: 1_000_000 }
})

/** API keys of two viewers and an operator, with names (their cache identities). */
export const cacheAuth = {
  enabled: true,
  jwt_secret: "x".repeat(40),
  api_keys: [
    { key: "key-alice-123456", role: "viewer", name: "alice" },
    { key: "key-bob-1234567", role: "viewer", name: "bob" },
    { key: "key-carol-operator", role: "operator", name: "carol" }
  ]
}
export const alice = { "x-api-key": "key-alice-123456" }
export const bob = { "x-api-key": "key-bob-1234567" }
export const carol = { "x-api-key": "key-carol-operator" }

/** A GET (or `init`) of `path` on the test's gateway. */
export const fetchPath = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
  Effect.flatMap(gatewayUrl, (base) => send(`${base}${path}`, { ...init, headers }))

export const xCache = (reply: Reply) => reply.headers.get("x-cache")

/** The backend's serial number in a JSON body, or the prefix of a blob body. */
export const serialOf = (reply: Reply): number =>
  typeof reply.json?.n === "number" ? reply.json.n : Number(reply.text.slice(0, reply.text.indexOf(":")))

/** The sum of the samples of `name` whose labels include `labels`, scraped from `base`. */
export const metricAt = (base: string, name: string, labels: Readonly<Record<string, string>> = {}) =>
  Effect.map(send(`${base}/metrics`), (res) => {
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
    const families = parsePrometheus(res.text)
    const family = families.get(name) ?? families.get(name.replace(/_total$/, ""))
    return samplesOf(family, name, labels).reduce((sum, s) => sum + s.value, 0)
  })

export const metric = (name: string, labels: Readonly<Record<string, string>> = {}) =>
  Effect.flatMap(gatewayUrl, (base) => metricAt(base, name, labels))
