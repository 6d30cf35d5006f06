// The soak run behind `npm run soak` (issue #9 item 4; not part of npm test): the built
// gateway (`node dist/gateway.mjs`) under a bounded run of mixed traffic with faults injected on
// a schedule, watched for gateway-made 5xx, memory growth and event-loop delay.
//
//   npm run soak                       build, then 120 s
//   SOAK_SECONDS=60 node bench/soak.mjs
//   SOAK_REDIS=1                       cache and rate limits in redis://127.0.0.1:6379/15 (flushed)
//   SOAK_CONCURRENCY=24 SOAK_RPS=400   HTTP client loops and their combined pace
//
// In this process: seven loopback backends (one per service, so one can go down alone), a
// ws echo on the dashboard service, the client loops and the sampler. The gateway is a child
// process (under `setpriv --pdeathsig KILL` when available), killed on exit, errors and
// SIGINT/SIGTERM. Everything listens on 127.0.0.1; every wait is bounded.
//
// Faults: risk_manager hangs for a window (504s, then its breaker opens: 503s),
// order_execution goes down for a window (refused: 502s, then 503s); configuration answers
// every 25th request 500 and strategy_engine every 40th 503 all run long (backend 5xx, passed
// through, marked X-Backend). A gateway 5xx is one without X-Backend; those inside a fault
// window (plus a grace for the breaker to close again) are expected, any other fails the run.
//
// Exit code 1 when: a gateway 5xx outside the fault windows, any 500, transport errors
// outside the windows, RSS at the end over 1.5x RSS after warm-up, an error logged by the
// gateway, or the gateway exiting early.
import { execFileSync, spawn } from "node:child_process"
import { createHmac } from "node:crypto"
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { createServer as createNetServer } from "node:net"
import os from "node:os"
import { dirname, join } from "node:path"
import { performance } from "node:perf_hooks"
import { createInterface } from "node:readline"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { Agent, request } from "undici"
import WebSocket, { WebSocketServer } from "ws"
import { stringify as toYaml } from "yaml"
import { gatewayNodeFlags } from "./harness.mjs"

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const HOST = "127.0.0.1"

// ---------------------------------------------------------------- settings

const positive = (name, fallback) => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got ${JSON.stringify(raw)}`)
  return n
}
const SECONDS = positive("SOAK_SECONDS", 120)
const CONCURRENCY = Math.round(positive("SOAK_CONCURRENCY", 24))
const RPS = positive("SOAK_RPS", 400)
const WS_LOOPS = 2
const REDIS = process.env.SOAK_REDIS === "1"
const REDIS_URL = "redis://127.0.0.1:6379/15"
const SAMPLE_MS = 2_000
const WARMUP_S = Math.min(15, Math.max(5, SECONDS * 0.15))
const GRACE_MS = 6_000 // after a fault: the breaker's 2 s timeout, a 1 s service timeout, slack
const REQUEST_TIMEOUT_MS = 5_000
const RSS_GROWTH_LIMIT = 1.5

// ---------------------------------------------------------------- credentials

const JWT_SECRET = "soak-jwt-secret-0123456789abcdefghijklmno"
const KEYS = { viewer: "soak-viewer-key-0123456789", operator: "soak-operator-key-0123456789", admin: "soak-admin-key-0123456789" }
const signJwt = (claims) => {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url")
  const input = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`
  return `${input}.${createHmac("sha256", JWT_SECRET).update(input).digest("base64url")}`
}
const nowS = Math.floor(Date.now() / 1000)
const JWT_OPERATOR = signJwt({ user_id: "soak-operator", role: "operator", iat: nowS, exp: nowS + 3 * 3600 })
const JWT_VIEWER = signJwt({ user_id: "soak-viewer", role: "viewer", iat: nowS, exp: nowS + 3 * 3600 })

// ---------------------------------------------------------------- cleanup

let gateway // the child process
let tmpDir
const servers = new Set()
const alive = (child) => child !== undefined && child.exitCode === null && child.signalCode === null

const killSync = () => {
  if (alive(gateway)) try { gateway.kill("SIGKILL") } catch { /* gone */ }
  if (tmpDir) try { rmSync(tmpDir, { recursive: true, force: true }) } catch { /* best effort */ }
}
process.on("exit", killSync)

let stopping = false
const shutdown = async (code) => {
  if (stopping) return
  stopping = true
  if (alive(gateway)) {
    const exited = new Promise((resolve) => gateway.once("exit", resolve))
    gateway.kill("SIGTERM")
    await Promise.race([exited, sleep(5_000)])
  }
  for (const s of servers) {
    try { s.closeAllConnections?.() } catch { /* closed */ }
    try { s.close() } catch { /* closed */ }
  }
  killSync()
  process.exit(code)
}
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => { console.error(`\n! ${signal}: stopping`); void shutdown(130) })
process.on("uncaughtException", (e) => { console.error("! soak failed:", e); void shutdown(2) })
process.on("unhandledRejection", (e) => { console.error("! soak failed:", e); void shutdown(2) })

// ---------------------------------------------------------------- backends

const SERVICES = ["market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"]
const faults = { riskHang: false, ordersDown: false }
const hanging = new Set()
const counters = { configuration: 0, strategy_engine: 0 }

const reply = (res, status, value) => {
  const body = JSON.stringify(value)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-backend": "soak" })
  res.end(body)
}

const handlerFor = (service) => (req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("error", () => {})
  req.on("end", () => {
    const bytes = Buffer.concat(chunks).length
    if (service === "risk_manager" && faults.riskHang) {
      hanging.add(res) // never answered: the gateway's timeout has to cut it
      res.once("close", () => hanging.delete(res))
      return
    }
    if (service === "configuration" && ++counters.configuration % 25 === 0) return reply(res, 500, { error: "backend failure", service })
    if (service === "strategy_engine" && ++counters.strategy_engine % 40 === 0) return reply(res, 503, { error: "backend busy", service })
    reply(res, 200, { service, method: req.method, url: req.url, bytes, at: Date.now(), pad: "x".repeat(200) })
  })
}

const listen = (server, port = 0) => new Promise((resolve, reject) => {
  server.once("error", reject)
  server.listen(port, HOST, () => {
    server.off("error", reject)
    resolve(server.address().port)
  })
})

const backends = {}
for (const service of SERVICES) {
  const server = createServer(handlerFor(service))
  server.keepAliveTimeout = 5_000
  servers.add(server)
  backends[service] = { server, port: await listen(server) }
}
// the dashboard service also speaks WebSocket: an echo on /ws
const wss = new WebSocketServer({ server: backends.dashboard_server.server, path: "/ws" })
wss.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
  socket.on("error", () => {})
})

/** order_execution down: its listener closed (connections refused), then back on the same port. */
const setOrdersDown = async (down) => {
  const b = backends.order_execution
  faults.ordersDown = down
  if (down) {
    await new Promise((resolve) => {
      b.server.close(() => resolve())
      b.server.closeAllConnections()
    })
  } else {
    await listen(b.server, b.port)
  }
}
/** risk_manager hangs: requests held unanswered until the gateway's timeout cuts them. */
const setRiskHang = (hang) => {
  faults.riskHang = hang
}

// ---------------------------------------------------------------- the gateway

const freePort = () => new Promise((resolve, reject) => {
  const s = createNetServer()
  s.once("error", reject)
  s.listen(0, HOST, () => {
    const { port } = s.address()
    s.close(() => resolve(port))
  })
})

const commandWorks = (cmd, args) => {
  try {
    execFileSync(cmd, args, { stdio: "ignore", timeout: 5_000 })
    return true
  } catch {
    return false
  }
}

if (REDIS) {
  const { Redis } = await import("ioredis")
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 2_000 })
  client.on("error", () => {})
  try {
    await client.connect()
    await client.flushdb()
  } catch (e) {
    console.error(`! SOAK_REDIS=1 but ${REDIS_URL} does not answer: ${e.message}`)
    await shutdown(2)
  } finally {
    client.disconnect()
  }
}

const gatewayPort = await freePort()
const breaker = { min_requests: 5, failure_ratio: 0.6, interval: "5s", timeout: "2s", max_requests: 3 }
const config = {
  server: { host: HOST, port: gatewayPort, mode: "test", workers: 1, read_timeout: "10s", write_timeout: "10s", max_body_bytes: 65_536 },
  services: Object.fromEntries(SERVICES.map((name) => [name, {
    url: `http://${HOST}:${backends[name].port}`,
    timeout: "1s",
    max_retries: name === "order_execution" ? 1 : 2
  }])),
  auth: {
    enabled: true,
    jwt_secret: JWT_SECRET,
    api_keys: Object.entries(KEYS).map(([role, key]) => ({ key, role, name: `soak-${role}` }))
  },
  rate_limit: {
    enabled: true,
    store: REDIS ? "redis" : "memory",
    global: { requests_per_second: 100_000, burst: 100_000 },
    endpoints: { "/api/v1/orders": { requests_per_second: 50_000, burst: 50_000 } },
    per_ip: { requests_per_minute: 100_000_000, burst: 10_000_000 },
    exempt_paths: ["/health/liveness", "/metrics"]
  },
  cors: { enabled: false },
  circuit_breaker: { enabled: true, ...breaker },
  retry: { initial_interval: "50ms", max_interval: "200ms" },
  cache: {
    enabled: true,
    ...(REDIS ? { redis_url: REDIS_URL } : {}),
    default_ttl: "2s",
    rules: {
      "/api/v1/market-data/symbols": { ttl: "2s", shared: true },
      "/api/v1/account/balance": { ttl: "1s" }
    }
  },
  health: { enabled: true, check_services: false },
  metrics: { enabled: true, path: "/metrics" },
  logging: { level: "info", format: "json", output: "stdout" },
  features: { enable_tracing: false, enable_access_log: true, enable_error_details: true },
  websocket: { enabled: true, path: "/ws", service: "dashboard_server", backend_path: "/ws", max_connections: 1000 }
}

tmpDir = mkdtempSync(join(os.tmpdir(), "gateway-soak-"))
const configPath = join(tmpDir, "config.yaml")
writeFileSync(configPath, toYaml(config), "utf8")

const env = { ...process.env, CONFIG_PATH: configPath }
for (const name of ["SERVER_PORT", "SERVER_HOST", "LOG_LEVEL", "JWT_SECRET", "REDIS_URL", "AUTH_ENABLED", "CACHE_ENABLED", "RATE_LIMIT_ENABLED", "NODE_OPTIONS", "GATEWAY_WORKERS"]) delete env[name]
const prefix = process.platform === "linux" && commandWorks("setpriv", ["--pdeathsig", "KILL", "--", "true"]) ? ["setpriv", "--pdeathsig", "KILL", "--"] : []
const argv = [...prefix, process.execPath, ...gatewayNodeFlags, "dist/gateway.mjs"] // as npm start runs it
// the log goes to a file, read at the end: a pipe this busy process drained late would block
// the gateway's writes (stdout pipes are synchronous on Linux) and show up as its loop delay
const logPath = join(tmpDir, "gateway.log")
const logFd = openSync(logPath, "w")
gateway = spawn(argv[0], argv.slice(1), { cwd: ROOT, env, stdio: ["ignore", logFd, "pipe"] })
closeSync(logFd)
let stderr = ""
gateway.stderr.setEncoding("utf8").on("data", (text) => void (stderr = (stderr + text).slice(-8_000)))
let gatewayExit
gateway.once("exit", (code, signal) => {
  gatewayExit = signal ?? `code ${code}`
  if (!stopping) console.error(`! the gateway exited (${gatewayExit})\n${stderr}`)
})

const BASE = `http://${HOST}:${gatewayPort}`
const control = new Agent({ connections: 4, keepAliveTimeout: 10_000 })
const ready = async () => {
  const deadline = performance.now() + 20_000
  while (performance.now() < deadline) {
    if (!alive(gateway)) throw new Error(`the gateway exited before serving (${gatewayExit})\n${stderr}`)
    try {
      const res = await request(`${BASE}/health/liveness`, { dispatcher: control, headersTimeout: 1_000, bodyTimeout: 1_000 })
      await res.body.text()
      if (res.statusCode === 200) return
    } catch { /* not yet */ }
    await sleep(100)
  }
  throw new Error(`the gateway did not serve within 20 s\n${stderr}`)
}
await ready()

// ---------------------------------------------------------------- traffic

const started = performance.now()
const elapsedMs = () => performance.now() - started
const end = started + SECONDS * 1000

// [start, end] of each injected fault, ms since the start; end is undefined while it lasts
const windows = []
const inWindow = (t) => windows.some((w) => t >= w.start && t <= (w.end ?? Infinity) + GRACE_MS)

const viewerKey = { "x-api-key": KEYS.viewer }
const operatorKey = { "x-api-key": KEYS.operator }
const json = { "content-type": "application/json" }
const orderBody = JSON.stringify({ symbol: "BTC-USD", side: "buy", qty: 1, price: 67234.5, note: "soak".repeat(20) })

/** Kinds of request, each with its weight: [kind, weight, () => request options]. */
const KINDS = [
  ["auth GET (API key)", 14, () => ({ path: "/api/v1/market-data/ticker/BTC-USD", headers: viewerKey })],
  ["auth GET (JWT)", 10, () => ({ path: "/api/v1/orders/active", headers: { authorization: `Bearer ${JWT_OPERATOR}` } })],
  ["unauthenticated", 8, () => ({ path: "/api/v1/orders" })],
  ["bad API key", 3, () => ({ path: "/api/v1/account/positions", headers: { "x-api-key": "not-a-key-0000" } })],
  ["forbidden", 4, () => ({ method: "DELETE", path: "/api/v1/strategies/s-1", headers: viewerKey })],
  ["cached shared", 14, () => ({ path: "/api/v1/market-data/symbols", headers: viewerKey })],
  ["cached per user", 10, () => ({ path: "/api/v1/account/balance", headers: { authorization: `Bearer ${JWT_VIEWER}` } })],
  ["POST order", 10, () => ({ method: "POST", path: "/api/v1/orders", headers: { ...operatorKey, ...json }, body: orderBody })],
  ["POST strategy start", 5, () => ({ method: "POST", path: "/api/v1/strategies/s-1/start", headers: { ...operatorKey, ...json }, body: "{}" })],
  ["risk (hang window)", 8, () => ({ path: "/api/v1/risk/status", headers: operatorKey })],
  ["config (backend 500s)", 5, () => ({ path: "/api/v1/config/max_position", headers: operatorKey })],
  ["public", 4, () => ({ path: Math.random() < 0.5 ? "/health/liveness" : "/version" })],
  ["not found", 2, () => ({ path: "/api/v1/nothing/here", headers: viewerKey })]
]
const totalWeight = KINDS.reduce((n, [, w]) => n + w, 0)
const pick = () => {
  let r = Math.random() * totalWeight
  for (const kind of KINDS) if ((r -= kind[1]) < 0) return kind
  return KINDS[0]
}

const stats = {
  byStatus: new Map(),
  byKind: new Map(),
  gateway5xx: { inside: new Map(), outside: [] },
  backend5xx: 0,
  transport: { inside: 0, outside: [] },
  total: 0
}
const bump = (map, key, n = 1) => map.set(key, (map.get(key) ?? 0) + n)

const client = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000, pipelining: 1 })

const one = async () => {
  const [kind, , make] = pick()
  const r = make()
  let status
  let backendMade = false
  try {
    const res = await request(`${BASE}${r.path}`, {
      dispatcher: client,
      method: r.method ?? "GET",
      headers: r.headers ?? {},
      body: r.body ?? null,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS
    })
    backendMade = res.headers["x-backend"] === "soak"
    await res.body.text()
    status = res.statusCode
  } catch (e) {
    status = `transport error (${e.code ?? e.name})`
  }
  const t = elapsedMs()
  stats.total++
  bump(stats.byStatus, status)
  if (!stats.byKind.has(kind)) stats.byKind.set(kind, new Map())
  bump(stats.byKind.get(kind), status)
  if (typeof status === "number" && status >= 500) {
    if (backendMade) stats.backend5xx++
    else if (status !== 500 && inWindow(t)) bump(stats.gateway5xx.inside, status)
    else stats.gateway5xx.outside.push({ t: Math.round(t / 100) / 10, kind, status })
  } else if (typeof status === "string") {
    if (inWindow(t)) stats.transport.inside++
    else stats.transport.outside.push({ t: Math.round(t / 100) / 10, kind, status })
  }
}

const httpLoop = async () => {
  const period = (CONCURRENCY / RPS) * 1000
  while (performance.now() < end && !stopping) {
    const t0 = performance.now()
    await one()
    const wait = period - (performance.now() - t0)
    if (wait > 0) await sleep(wait * (0.5 + Math.random()))
  }
}

const wsStats = { ok: 0, failed: 0, reasons: new Map() }
const wsSession = () => new Promise((resolve) => {
  const socket = new WebSocket(`ws://${HOST}:${gatewayPort}/ws`, { headers: viewerKey, handshakeTimeout: REQUEST_TIMEOUT_MS })
  let echoed = 0
  const messages = 5
  let settled = false
  const done = (ok, reason) => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    if (ok) wsStats.ok++
    else {
      wsStats.failed++
      bump(wsStats.reasons, reason)
      socket.terminate()
    }
    resolve()
  }
  const timer = setTimeout(() => done(false, "timeout"), REQUEST_TIMEOUT_MS)
  socket.on("open", () => socket.send(`ping 0 ${Date.now()}`))
  socket.on("message", (data) => {
    if (!String(data).startsWith(`ping ${echoed} `)) return done(false, "wrong echo")
    echoed++
    if (echoed < messages) socket.send(`ping ${echoed} ${Date.now()}`)
    else socket.close(1000, "done")
  })
  socket.on("close", (code) => done(echoed === messages && code === 1000, `closed ${code} after ${echoed}`))
  socket.on("unexpected-response", (_req, res) => done(false, `upgrade answered ${res.statusCode}`))
  socket.on("error", (e) => done(false, `error ${e.code ?? e.message}`))
})
const wsLoop = async () => {
  while (performance.now() < end && !stopping) {
    await wsSession()
    await sleep(50 + Math.random() * 100)
  }
}

// ---------------------------------------------------------------- the fault schedule

const schedule = async () => {
  const plan = [
    { at: 0.25, lasts: Math.min(10, SECONDS * 0.1), name: "risk_manager hangs", on: () => setRiskHang(true), off: () => setRiskHang(false) },
    { at: 0.55, lasts: Math.min(10, SECONDS * 0.1), name: "order_execution down", on: () => setOrdersDown(true), off: () => setOrdersDown(false) }
  ]
  for (const fault of plan) {
    const startAt = started + fault.at * SECONDS * 1000
    if (startAt > performance.now()) await sleep(startAt - performance.now())
    if (stopping) return
    const w = { name: fault.name, start: elapsedMs(), end: undefined }
    windows.push(w)
    await fault.on()
    console.log(`  ${(w.start / 1000).toFixed(1)}s  fault: ${fault.name} for ${fault.lasts.toFixed(1)} s`)
    await sleep(fault.lasts * 1000)
    await fault.off()
    w.end = elapsedMs()
    console.log(`  ${(w.end / 1000).toFixed(1)}s  fault over: ${fault.name}`)
  }
}

// ---------------------------------------------------------------- sampling

const samples = []
const rssOf = (pid) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}
const metricOf = (text, name) => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)
  return m ? Number(m[1]) : undefined
}
const sampleOnce = async () => {
  let text = ""
  try {
    const res = await request(`${BASE}/metrics`, { dispatcher: control, headersTimeout: 3_000, bodyTimeout: 3_000 })
    text = await res.body.text()
  } catch { /* counted as missing */ }
  samples.push({
    t: elapsedMs() / 1000,
    rss: rssOf(gateway.pid),
    heap: metricOf(text, "nodejs_heap_size_used_bytes"),
    lagP99: metricOf(text, "nodejs_eventloop_lag_p99_seconds"),
    handles: metricOf(text, "nodejs_active_handles_total"),
    connections: metricOf(text, "api_gateway_active_connections"),
    requests: stats.total
  })
}
const mb = (bytes) => (bytes === undefined ? "?" : `${(bytes / 1_048_576).toFixed(1)} MB`)
const ms = (seconds) => (seconds === undefined ? "?" : `${(seconds * 1000).toFixed(1)} ms`)
const sampler = async () => {
  let lastPrint = 0
  let lastCount = 0
  while (performance.now() < end && !stopping) {
    await sampleOnce()
    const s = samples.at(-1)
    if (s.t - lastPrint >= 10) {
      const rate = (s.requests - lastCount) / (s.t - lastPrint || 1)
      console.log(`  ${s.t.toFixed(0).padStart(4)}s  ${rate.toFixed(0).padStart(5)} req/s  rss ${mb(s.rss)}  heap ${mb(s.heap)}  loop p99 ${ms(s.lagP99)}  handles ${s.handles ?? "?"}  ws ${wsStats.ok}/${wsStats.failed}`)
      lastPrint = s.t
      lastCount = s.requests
    }
    await sleep(SAMPLE_MS)
  }
}

// ---------------------------------------------------------------- run

console.log(`soak: ${SECONDS} s, ${CONCURRENCY} HTTP loops at ~${RPS} req/s, ${WS_LOOPS} WebSocket loops, stores ${REDIS ? `redis (${REDIS_URL})` : "memory"}; gateway pid ${gateway.pid} on ${BASE}`)
console.log(`  warm-up ${WARMUP_S.toFixed(0)} s; 5xx within a fault window or ${GRACE_MS / 1000} s after it are expected`)
await sampleOnce()
await Promise.all([
  ...Array.from({ length: CONCURRENCY }, httpLoop),
  ...Array.from({ length: WS_LOOPS }, wsLoop),
  schedule(),
  sampler()
])
await sampleOnce()
const duration = elapsedMs() / 1000

// ---------------------------------------------------------------- report

const afterWarmup = samples.filter((s) => s.t >= WARMUP_S && s.rss !== undefined)
const first = afterWarmup[0] ?? samples.find((s) => s.rss !== undefined)
const last = samples.at(-1)
const lags = samples.map((s) => s.lagP99).filter((v) => v !== undefined)
const sorted = [...lags].sort((a, b) => a - b)
const maxRss = Math.max(...samples.map((s) => s.rss ?? 0))
const sortStatus = (a, b) => String(a[0]).localeCompare(String(b[0]), undefined, { numeric: true })

console.log(`\nrequests: ${stats.total} in ${duration.toFixed(1)} s (${(stats.total / duration).toFixed(0)} req/s)`)
console.log("by status:")
for (const [status, n] of [...stats.byStatus].sort(sortStatus)) console.log(`  ${String(status).padEnd(34)} ${n}`)
console.log("by kind:")
for (const [kind] of KINDS) {
  const m = stats.byKind.get(kind)
  if (m) console.log(`  ${kind.padEnd(24)} ${[...m].sort(sortStatus).map(([s, n]) => `${s}: ${n}`).join(", ")}`)
}
console.log("fault windows:")
for (const w of windows) console.log(`  ${w.name}: ${(w.start / 1000).toFixed(1)}–${((w.end ?? duration * 1000) / 1000).toFixed(1)} s (+${GRACE_MS / 1000} s grace)`)
const insideTotal = [...stats.gateway5xx.inside.values()].reduce((a, b) => a + b, 0)
console.log(`gateway-made 5xx inside fault windows: ${insideTotal} ${JSON.stringify(Object.fromEntries(stats.gateway5xx.inside))}`)
console.log(`gateway-made 5xx outside fault windows: ${stats.gateway5xx.outside.length}${stats.gateway5xx.outside.length ? ` ${JSON.stringify(stats.gateway5xx.outside.slice(0, 10))}` : ""}`)
console.log(`backend-made 5xx (passed through): ${stats.backend5xx}`)
console.log(`transport errors: ${stats.transport.inside} inside fault windows, ${stats.transport.outside.length} outside${stats.transport.outside.length ? ` ${JSON.stringify(stats.transport.outside.slice(0, 10))}` : ""}`)
console.log(`WebSocket sessions: ${wsStats.ok} ok, ${wsStats.failed} failed${wsStats.failed ? ` ${JSON.stringify(Object.fromEntries(wsStats.reasons))}` : ""}`)
console.log(`RSS: ${mb(samples[0]?.rss)} at start, ${mb(first?.rss)} after warm-up (${first?.t.toFixed(0)} s), ${mb(last?.rss)} at the end, ${mb(maxRss)} max`)
console.log(`heap used: ${mb(samples[0]?.heap)} at start, ${mb(first?.heap)} after warm-up, ${mb(last?.heap)} at the end`)
console.log(`event-loop delay p99: ${ms(sorted[Math.floor(sorted.length / 2)])} median of samples, ${ms(sorted.at(-1))} max, ${ms(last?.lagP99)} last`)
console.log(`active handles (gateway): ${samples[0]?.handles ?? "?"} at start, ${last?.handles ?? "?"} at the end`)
const transitions = await (async () => {
  try {
    const res = await request(`${BASE}/metrics`, { dispatcher: control, headersTimeout: 3_000, bodyTimeout: 3_000 })
    const text = await res.body.text()
    return [...text.matchAll(/^api_gateway_circuit_breaker_transitions_total\{([^}]*)\} (\S+)$/gm)].map(([, labels, n]) => {
      const l = Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]))
      return `${l.service} ${l.from}→${l.to} ${n}`
    })
  } catch {
    return ["(no /metrics)"]
  }
})()
console.log(`breaker transitions: ${transitions.length === 0 ? "none" : transitions.join(", ")}`)
const logs = { lines: 0, errors: [], warnings: 0 }
for await (const line of createInterface({ input: createReadStream(logPath, { encoding: "utf8" }), crlfDelay: Infinity })) {
  if (line === "") continue
  logs.lines++
  if (line.includes("\"level\":\"error\"")) logs.errors.push(line.slice(0, 400))
  else if (line.includes("\"level\":\"warn\"")) logs.warnings++
}
console.log(`gateway log: ${logs.lines} lines, ${logs.warnings} warnings, ${logs.errors.length} errors`)
for (const line of logs.errors.slice(0, 5)) console.log(`  ${line}`)

const failures = []
if (stats.gateway5xx.outside.length > 0) failures.push(`${stats.gateway5xx.outside.length} gateway 5xx outside the fault windows (or 500s)`)
if (stats.transport.outside.length > 0) failures.push(`${stats.transport.outside.length} transport errors outside the fault windows`)
const growth = first?.rss && last?.rss ? last.rss / first.rss : undefined
if (growth !== undefined && growth > RSS_GROWTH_LIMIT) failures.push(`RSS grew ${((growth - 1) * 100).toFixed(0)}% after warm-up`)
if (logs.errors.length > 0) failures.push(`${logs.errors.length} errors in the gateway's log`)
if (!alive(gateway)) failures.push(`the gateway exited during the run (${gatewayExit})`)
if (wsStats.ok === 0) failures.push("no WebSocket session succeeded")
console.log(`\n${failures.length === 0 ? "PASS" : `FAIL: ${failures.join("; ")}`}  (RSS growth after warm-up ${growth === undefined ? "?" : `${((growth - 1) * 100).toFixed(1)}%`})`)
await shutdown(failures.length === 0 ? 0 : 1)
