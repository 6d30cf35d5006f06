// The benchmark harness behind `npm run bench` (PERFORMANCE.md: the proxy alone on one core,
// load generator and backend on the other, 64 connections, medians of interleaved rounds).
//
//   npm run bench                        build, then 3 rounds x 5 s per scenario
//   node bench/run.mjs --quick           smoke test: 1 round x 2 s, 1 s warm-up (or BENCH_QUICK=1)
//   BENCH_ROUNDS=5 BENCH_DURATION=10 node bench/run.mjs
//
// Targets run as child processes pinned with `taskset` to the first allowed CPU; this process
// (autocannon) and the backend are pinned to the second. Every child is killed on exit, on
// errors and on SIGINT/SIGTERM; helpers also exit when their stdin closes and are spawned
// under `setpriv --pdeathsig KILL` when available, so none outlives a SIGKILLed runner.
// Results: a table on stdout and bench/results/latest.json.
//
// Adding a scenario is one line in SCENARIOS; a gateway with another config is one line in
// TARGETS (gatewayTarget(patch) deep-merges the patch into the bench config).
import autocannon from "autocannon"
import { execFileSync, spawn } from "node:child_process"
import { createHmac } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { request as httpRequest } from "node:http"
import { createServer } from "node:net"
import os from "node:os"
import { dirname, join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { stringify as toYaml } from "yaml"

const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
const ROOT = dirname(BENCH_DIR)
const HOST = "127.0.0.1"

// ---------------------------------------------------------------- settings

const QUICK = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1"
const positive = (name, fallback) => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got ${JSON.stringify(raw)}`)
  return n
}
const ROUNDS = QUICK ? 1 : Math.round(positive("BENCH_ROUNDS", 3))
const DURATION = QUICK ? 2 : positive("BENCH_DURATION", 5) // seconds per round
const WARMUP = QUICK ? 1 : 2 // seconds per target, before its first round
const CONNECTIONS = 64
const PIPELINING = 1
const REQUEST_TIMEOUT = 5 // seconds; a slower answer counts as an error (timeout)

// ---------------------------------------------------------------- credentials

const API_KEY = "bench-viewer-key-0123456789"
const JWT_SECRET = "bench-jwt-secret-0123456789abcdefghijklm" // 40 chars
if (JWT_SECRET.length !== 40) throw new Error("JWT_SECRET must be 40 characters")

const signJwt = (claims, secret) => {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url")
  const input = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`
}
const now = Math.floor(Date.now() / 1000)
const JWT = signJwt({ user_id: "bench", role: "viewer", iat: now, exp: now + 3600 }, JWT_SECRET)

// ---------------------------------------------------------------- targets

const SERVICES = [
  "market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"
]

/** The gateway's bench config (SPEC §2 keys); the backend URL and port are filled in at start. */
const gatewayConfig = ({ port, backend }) => ({
  server: { host: HOST, port, mode: "test", workers: 1 },
  services: Object.fromEntries(SERVICES.map((name) => [name, { url: backend }])),
  auth: { enabled: true, jwt_secret: JWT_SECRET, api_keys: [{ key: API_KEY, role: "viewer", name: "bench" }] },
  rate_limit: {
    enabled: true,
    store: "memory",
    global: { requests_per_second: 1_000_000, burst: 2_000_000 },
    endpoints: {},
    per_ip: { requests_per_minute: 100_000_000, burst: 100_000_000 }
  },
  cache: { enabled: false },
  health: { enabled: true, check_services: false },
  logging: { level: "info", format: "json", output: "stdout" },
  features: { enable_tracing: false, enable_access_log: true }
})

const isPlainObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v)
const deepMerge = (base, patch) => {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch
  const out = { ...base }
  for (const [k, v] of Object.entries(patch)) out[k] = deepMerge(base[k], v)
  return out
}

/** A gateway process (`node dist/main.js`) with the bench config plus `patch`. */
const gatewayTarget = (patch = {}) => ({ kind: "gateway", patch, ready: "/health/liveness" })
/** A helper script of bench/ that prints `LISTENING <port>`. */
const scriptTarget = (script) => ({ kind: "script", script })

const TARGETS = {
  gateway: gatewayTarget(),
  bare: scriptTarget("bare-proxy.mjs"),
  fastify: scriptTarget("fastify-proxy.mjs"),
  "bare-local": scriptTarget("bare-local.mjs"),
  "gateway-cache": gatewayTarget({ cache: { enabled: true, rules: { "/api/v1/market-data": { ttl: "60s", shared: true } } } })
}

// ---------------------------------------------------------------- scenarios

const MARKET = "/api/v1/market-data/ticker/BTC-USD"
const BASELINE = "bare proxied GET" // every scenario's req/s is compared with this one

/** name, target (a key of TARGETS), path, optional method/headers/body, optional reference scenario. */
const SCENARIOS = [
  { name: "gateway proxied GET (API key)", target: "gateway", path: MARKET, headers: { "x-api-key": API_KEY } },
  { name: "gateway proxied GET (JWT)", target: "gateway", path: MARKET, headers: { authorization: `Bearer ${JWT}` } },
  { name: "bare proxied GET", target: "bare", path: MARKET },
  { name: "fastify proxied GET", target: "fastify", path: MARKET },
  { name: "gateway /health/liveness", target: "gateway", path: "/health/liveness", reference: "bare-local GET" },
  { name: "bare-local GET", target: "bare-local", path: MARKET },
  { name: "gateway cache hit (API key)", target: "gateway-cache", path: MARKET, headers: { "x-api-key": API_KEY }, reference: "bare-local GET" }
]

// ---------------------------------------------------------------- child processes

const children = new Set()
const alive = (child) => child.exitCode === null && child.signalCode === null
let tmpDir

const killAllSync = () => {
  for (const child of children) if (alive(child)) try { child.kill("SIGKILL") } catch { /* gone */ }
  if (tmpDir) try { rmSync(tmpDir, { recursive: true, force: true }) } catch { /* best effort */ }
}
process.on("exit", killAllSync)

let stopping
const stopAll = () => (stopping ??= (async () => {
  const running = [...children].filter(alive)
  const exited = running.map((child) => new Promise((resolve) => child.once("exit", resolve)))
  for (const child of running) try { child.kill("SIGTERM") } catch { /* gone */ }
  await Promise.race([Promise.all(exited), sleep(3_000)])
  killAllSync()
})())

const commandWorks = (cmd, args) => {
  try {
    execFileSync(cmd, args, { stdio: "ignore", timeout: 5_000 })
    return true
  } catch {
    return false
  }
}

/** CPUs this process may run on, from `taskset -pc <pid>` ("0,1" or "0-3,6"). */
const allowedCpus = () => {
  try {
    const out = execFileSync("taskset", ["-pc", String(process.pid)], { encoding: "utf8", timeout: 5_000 })
    const list = out.slice(out.lastIndexOf(":") + 1).trim()
    return list.split(",").flatMap((part) => {
      const [a, b] = part.split("-").map(Number)
      return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i)
    }).filter(Number.isInteger)
  } catch {
    return []
  }
}

/** Pinning plan: targets on one CPU, this process and the backend on another. */
const planPinning = () => {
  if (process.platform !== "linux") return { pinned: false, why: `not Linux (${process.platform})` }
  if (!commandWorks("taskset", ["-c", "0", "true"]) && !commandWorks("taskset", ["-V"])) return { pinned: false, why: "taskset is missing" }
  const cpus = allowedCpus()
  if (cpus.length < 2) return { pinned: false, why: `fewer than 2 CPUs available (${cpus.join(",") || "unknown"})` }
  const [targetCpu, loadCpu] = cpus
  try {
    execFileSync("taskset", ["-a", "-pc", String(loadCpu), String(process.pid)], { stdio: "ignore", timeout: 5_000 })
  } catch (e) {
    return { pinned: false, why: `taskset could not pin this process: ${e.message}` }
  }
  return { pinned: true, targetCpu, loadCpu }
}

const PDEATHSIG = process.platform === "linux" && commandWorks("setpriv", ["--pdeathsig", "KILL", "--", "true"])

/** Spawn `node <args>` pinned to `cpu` (when pinning), tracked for cleanup. */
const spawnNode = (label, args, { cpu, env, stdio, pinning }) => {
  const prefix = []
  if (PDEATHSIG) prefix.push("setpriv", "--pdeathsig", "KILL", "--")
  if (pinning.pinned && cpu !== undefined) prefix.push("taskset", "-c", String(cpu))
  const argv = [...prefix, process.execPath, ...args]
  // setpriv and taskset exec the next program, so child.pid is node's pid (for /proc/<pid>/status)
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env, stdio })
  child.label = label
  children.add(child)
  child.once("exit", (code, signal) => {
    if (!stopping) console.error(`! ${label} exited (${signal ?? `code ${code}`})`)
  })
  return child
}

/** Child env without the variables that would override the gateway's config file (SPEC §1). */
const childEnv = (extra) => {
  const env = { ...process.env, ...extra }
  for (const name of ["SERVER_PORT", "SERVER_HOST", "LOG_LEVEL", "JWT_SECRET", "REDIS_URL", "AUTH_ENABLED", "CACHE_ENABLED", "RATE_LIMIT_ENABLED", "NODE_OPTIONS"]) {
    if (!(name in (extra ?? {}))) delete env[name]
  }
  return env
}

const withTimeout = (promise, ms, what) => {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms) })
  ]).finally(() => clearTimeout(timer))
}

/** Start a helper script and wait for its `LISTENING <port>` line. */
const startScript = (label, script, { cpu, env, pinning }) => {
  const child = spawnNode(label, [join(BENCH_DIR, script)], { cpu, env: childEnv({ PORT: "0", ...env }), stdio: ["pipe", "pipe", "inherit"], pinning })
  const ready = new Promise((resolve, reject) => {
    let buffered = ""
    const onData = (chunk) => {
      buffered += chunk
      const m = /LISTENING (\d+)/.exec(buffered)
      if (m) {
        child.stdout.off("data", onData)
        child.stdout.resume() // keep draining
        resolve({ child, port: Number(m[1]) })
      }
    }
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", onData)
    child.once("exit", (code, signal) => reject(new Error(`${label} (${script}) exited before listening (${signal ?? `code ${code}`})`)))
    child.once("error", reject)
  })
  return withTimeout(ready, 20_000, `${label} start`)
}

const freePort = () => new Promise((resolve, reject) => {
  const srv = createServer()
  srv.once("error", reject)
  srv.listen(0, HOST, () => {
    const { port } = srv.address()
    srv.close(() => resolve(port))
  })
})

/** One GET: { status, body } (body cut to 200 chars), or { error }. */
const probe = (port, path, headers = {}, method = "GET", body) => new Promise((resolve) => {
  const req = httpRequest({ host: HOST, port, path, method, headers, agent: false, timeout: 2_000 }, (res) => {
    let text = ""
    res.setEncoding("utf8")
    res.on("data", (c) => { if (text.length < 200) text += c })
    res.on("end", () => resolve({ status: res.statusCode, body: text.slice(0, 200) }))
    res.on("error", (e) => resolve({ error: e.message }))
  })
  req.on("timeout", () => req.destroy(new Error("timed out")))
  req.on("error", (e) => resolve({ error: e.message }))
  req.end(body)
})

const startGateway = async (label, target, { backend, cpu, pinning }) => {
  const main = join(ROOT, "dist", "main.js")
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first (npm run bench does)`)
  const port = await freePort()
  const configPath = join(tmpDir, `${label}.yaml`)
  const config = deepMerge(gatewayConfig({ port, backend }), target.patch)
  writeFileSync(configPath, `# written by bench/run.mjs\n${toYaml(config)}`)
  const env = childEnv({ CONFIG_PATH: configPath })
  const child = spawnNode(label, [main], { cpu, env, stdio: "ignore", pinning })
  const deadline = Date.now() + 60_000
  for (;;) {
    if (!alive(child)) {
      // the run itself discards the gateway's output; run it once more to show why it stopped
      let output = ""
      try {
        execFileSync(process.execPath, [main], { cwd: ROOT, env, timeout: 15_000, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      } catch (e) {
        output = `${e.stdout ?? ""}${e.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n")
      }
      throw new Error(`${label} exited before answering ${target.ready} (${child.signalCode ?? `code ${child.exitCode}`}); config ${configPath}:\n${output}`)
    }
    const r = await probe(port, target.ready)
    if (r.status === 200) return { child, port, configPath }
    if (Date.now() > deadline) throw new Error(`${label} did not answer 200 on ${target.ready} within 60 s (last: ${r.status ?? r.error})`)
    await sleep(100)
  }
}

// ---------------------------------------------------------------- load

let currentLoad
let aborted = false // set on SIGINT/SIGTERM/deadline: no further load is started
/** One autocannon run, bounded: stopped if it has not finished 15 s after its duration. */
const load = (opts) => {
  if (aborted) return Promise.reject(new Error("aborted"))
  const instance = autocannon({ connections: CONNECTIONS, pipelining: PIPELINING, timeout: REQUEST_TIMEOUT, ...opts })
  currentLoad = instance
  const guard = setTimeout(() => instance.stop(), (opts.duration + 15) * 1000)
  return withTimeout(Promise.resolve(instance), (opts.duration + 30) * 1000, `autocannon on ${opts.url}`)
    .finally(() => { clearTimeout(guard); currentLoad = undefined })
}

const rssMb = (pid) => {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

// CPU accounting from /proc (Linux): ticks of USER_HZ, 100 on every common kernel.
const HZ = 100
/** utime + stime of one process, in ticks (null when unknown). */
const processTicks = (pid) => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
    return Number(fields[11]) + Number(fields[12]) // fields 14 and 15 of proc(5)
  } catch {
    return null
  }
}
/** user + nice + system ticks of the whole machine (irq/softirq left out: processes are not charged for them). */
const machineTicks = () => {
  try {
    const [user, nice, system] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number)
    return user + nice + system
  } catch {
    return null
  }
}
/**
 * Snapshot before a round; `.end()` gives the CPU % of the target, of the load side (this
 * process and the backend, sharing one core) and of processes outside the bench.
 */
const cpuMeter = (targetPid, loadPids) => {
  const loadSide = () => loadPids.reduce((a, pid) => a + (processTicks(pid) ?? 0), 0)
  const ours = () => [process.pid, ...[...children].filter(alive).map((c) => c.pid)].reduce((a, pid) => a + (processTicks(pid) ?? 0), 0)
  const t0 = Date.now(), target0 = processTicks(targetPid), load0 = loadSide(), ours0 = ours(), machine0 = machineTicks()
  return {
    end: () => {
      const seconds = (Date.now() - t0) / 1000
      const target1 = processTicks(targetPid), load1 = loadSide(), ours1 = ours(), machine1 = machineTicks()
      const pct = (ticks) => (100 * ticks) / HZ / seconds
      return {
        targetCpuPct: target0 === null || target1 === null ? null : pct(target1 - target0),
        loadSideCpuPct: machine0 === null ? null : pct(load1 - load0),
        foreignCpuPct: machine0 === null || machine1 === null ? null : Math.max(0, pct(machine1 - machine0 - (ours1 - ours0)))
      }
    }
  }
}

const median = (values) => {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

const statusSummary = (stats) =>
  Object.entries(stats ?? {}).sort((a, b) => b[1].count - a[1].count).map(([code, { count }]) => `${code}×${count}`).join(" ")

const roundRecord = (result, pid, alive, cpu) => {
  const responses = result.requests.total
  const ok = result["2xx"]
  const attempts = responses + result.errors
  return {
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    responses,
    ok2xx: ok,
    non2xx: result.non2xx,
    errors: result.errors, // includes timeouts
    timeouts: result.timeouts,
    okPct: attempts > 0 ? (100 * ok) / attempts : 0,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    rssMb: rssMb(pid),
    targetCpuPct: cpu.targetCpuPct, // 100 = one core: below ~90 the target was not the bottleneck
    loadSideCpuPct: cpu.loadSideCpuPct, // autocannon + backend; near 100 (pinned) means the load side was the limit
    foreignCpuPct: cpu.foreignCpuPct, // CPU used meanwhile by processes outside the bench (noise)
    targetAlive: alive,
    duration: result.duration
  }
}

// ---------------------------------------------------------------- output

const fmt = {
  int: (n) => (n === null ? "—" : Math.round(n).toLocaleString("en-US")),
  ms: (n) => (n === null ? "—" : Number.isInteger(n) ? String(n) : n.toFixed(1)), // autocannon's resolution is 1 ms
  cpu: (n) => (n === null ? "—" : `${Math.round(n)}%`),
  mb: (n) => (n === null ? "—" : n.toFixed(1)),
  pct: (n) => (n === null ? "—" : `${n.toFixed(n > 99.9 && n < 100 ? 2 : 1)}%`),
  ratio: (n) => (n === null || !Number.isFinite(n) ? "—" : n.toFixed(2))
}

const table = (header, rows, rightAligned) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => `| ${cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ")} |`
  const rule = `|${widths.map((w, i) => (rightAligned[i] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`
  return [line(header), rule, ...rows.map(line)].join("\n")
}

// ---------------------------------------------------------------- main

const main = async () => {
  const started = new Date()
  const totalSeconds = ROUNDS * SCENARIOS.length * (DURATION + 1) + Object.keys(TARGETS).length * (WARMUP + 1) + 120
  // the whole run is bounded: give up (and kill every child) well after the expected end
  setTimeout(() => {
    console.error(`! bench exceeded ${Math.round(totalSeconds * 1.5)} s; stopping`)
    aborted = true
    currentLoad?.stop()
    stopAll().finally(() => process.exit(2))
  }, totalSeconds * 1500).unref()

  for (const s of SCENARIOS) if (!TARGETS[s.target]) throw new Error(`scenario "${s.name}": unknown target "${s.target}"`)
  if (!SCENARIOS.some((s) => s.name === BASELINE)) throw new Error(`the baseline scenario "${BASELINE}" is missing`)

  const pinning = planPinning()
  const machine = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    node: process.version,
    pinned: pinning.pinned,
    pinning: pinning.pinned
      ? `targets on CPU ${pinning.targetCpu}; load generator (this process) and backend on CPU ${pinning.loadCpu}`
      : `unpinned: ${pinning.why}`
  }
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, pinned: ${pinning.pinned ? "yes" : "NO"} (${machine.pinning})`)
  console.log(`date: ${started.toISOString()}`)
  console.log(`settings: ${CONNECTIONS} connections, pipelining ${PIPELINING}, ${ROUNDS} round(s) x ${DURATION} s, warm-up ${WARMUP} s per target${QUICK ? " (quick)" : ""}`)

  tmpDir = mkdtempSync(join(os.tmpdir(), "gateway-bench-"))
  const backend = await startScript("backend", "backend.mjs", { cpu: pinning.loadCpu, pinning })
  const backendUrl = `http://${HOST}:${backend.port}`

  const used = [...new Set(SCENARIOS.map((s) => s.target))]
  const running = Object.fromEntries(await Promise.all(used.map(async (name) => {
    const t = TARGETS[name]
    const opts = { cpu: pinning.targetCpu, pinning }
    const r = t.kind === "gateway"
      ? await startGateway(name, t, { ...opts, backend: backendUrl })
      : await startScript(name, t.script, { ...opts, env: { BACKEND_URL: backendUrl } })
    return [name, { ...r, warmed: false }]
  })))
  console.log(`started: backend :${backend.port}, ${used.map((n) => `${n} :${running[n].port} (pid ${running[n].child.pid})`).join(", ")}`)

  // one request per scenario first, so a failing scenario shows why
  for (const s of SCENARIOS) {
    const r = await probe(running[s.target].port, s.path, s.headers, s.method, s.body)
    console.log(`preflight ${s.name}: ${r.error ? `error ${r.error}` : `${r.status} ${r.body.replace(/\s+/g, " ").slice(0, 120)}`}`)
  }

  const results = SCENARIOS.map((s) => ({ ...s, rounds: [] }))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const res of results) {
      const target = running[res.target]
      const url = `http://${HOST}:${target.port}`
      if (!target.warmed) {
        const requests = SCENARIOS.filter((s) => s.target === res.target)
          .map((s) => ({ method: s.method ?? "GET", path: s.path, headers: s.headers ?? {}, body: s.body }))
        await load({ url, requests, duration: WARMUP })
        target.warmed = true
        await sleep(250)
      }
      const meter = cpuMeter(target.child.pid, [process.pid, backend.child.pid])
      const result = await load({ url: `${url}${res.path}`, method: res.method ?? "GET", headers: res.headers ?? {}, body: res.body, duration: DURATION })
      if (aborted) return
      const rec = roundRecord(result, target.child.pid, alive(target.child), meter.end())
      res.rounds.push(rec)
      console.log(
        `[round ${round}/${ROUNDS}] ${res.name}: ${fmt.int(rec.reqPerSec)} req/s, p50 ${fmt.ms(rec.p50)} ms, p99 ${fmt.ms(rec.p99)} ms, ` +
        `RSS ${fmt.mb(rec.rssMb)} MB, target CPU ${fmt.cpu(rec.targetCpuPct)}, load-side CPU ${fmt.cpu(rec.loadSideCpuPct)}, other CPU ${fmt.cpu(rec.foreignCpuPct)}, ok ${fmt.pct(rec.okPct)} (${statusSummary(result.statusCodeStats) || "no responses"}` +
        `${rec.errors ? `, ${rec.errors} errors incl. ${rec.timeouts} timeouts` : ""})${rec.targetAlive ? "" : " TARGET EXITED"}`
      )
      await sleep(250)
    }
  }

  const summary = results.map((res) => {
    const sum = (k) => res.rounds.reduce((a, r) => a + r[k], 0)
    const responses = sum("responses")
    const ok2xx = sum("ok2xx")
    const errors = sum("errors")
    const statusCodes = {}
    for (const r of res.rounds) for (const [k, v] of Object.entries(r.statusCodes)) statusCodes[k] = (statusCodes[k] ?? 0) + v
    return {
      name: res.name,
      target: res.target,
      method: res.method ?? "GET",
      path: res.path,
      headers: Object.keys(res.headers ?? {}),
      reference: res.reference ?? null,
      median: {
        reqPerSec: median(res.rounds.map((r) => r.reqPerSec)),
        p50: median(res.rounds.map((r) => r.p50)),
        p99: median(res.rounds.map((r) => r.p99)),
        rssMb: median(res.rounds.map((r) => r.rssMb)),
        targetCpuPct: median(res.rounds.map((r) => r.targetCpuPct)),
        loadSideCpuPct: median(res.rounds.map((r) => r.loadSideCpuPct)),
        foreignCpuPct: median(res.rounds.map((r) => r.foreignCpuPct))
      },
      maxForeignCpuPct: Math.max(0, ...res.rounds.map((r) => r.foreignCpuPct ?? 0)),
      responses,
      ok2xx,
      non2xx: sum("non2xx"),
      errors,
      timeouts: sum("timeouts"),
      okPct: responses + errors > 0 ? (100 * ok2xx) / (responses + errors) : 0,
      statusCodes,
      targetExited: res.rounds.some((r) => !r.targetAlive),
      rounds: res.rounds
    }
  })
  const byName = Object.fromEntries(summary.map((s) => [s.name, s]))
  const baseline = byName[BASELINE].median.reqPerSec
  for (const s of summary) {
    s.vsBare = baseline ? s.median.reqPerSec / baseline : null
    const ref = s.reference ? byName[s.reference]?.median.reqPerSec : null
    s.vsReference = ref ? s.median.reqPerSec / ref : null
  }

  console.log("")
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, pinned: ${pinning.pinned ? "yes" : "NO"} (${machine.pinning})`)
  console.log(`date: ${started.toISOString()}; medians of ${ROUNDS} interleaved round(s) x ${DURATION} s, ${CONNECTIONS} connections, pipelining ${PIPELINING}`)
  console.log("")
  console.log(table(
    ["scenario", "req/s", "p50 ms", "p99 ms", "RSS MB", "non-2xx", "errors", "ok %", `vs ${BASELINE}`, "vs reference", "target CPU", "other CPU"],
    summary.map((s) => [
      s.name + (s.targetExited ? " (TARGET EXITED)" : ""),
      fmt.int(s.median.reqPerSec),
      fmt.ms(s.median.p50),
      fmt.ms(s.median.p99),
      fmt.mb(s.median.rssMb),
      fmt.int(s.non2xx),
      fmt.int(s.errors),
      fmt.pct(s.okPct),
      fmt.ratio(s.vsBare),
      s.reference ? `${fmt.ratio(s.vsReference)} × ${s.reference}` : "",
      fmt.cpu(s.median.targetCpuPct),
      fmt.cpu(s.median.foreignCpuPct)
    ]),
    [false, true, true, true, true, true, true, true, true, false, true, true]
  ))
  const failing = summary.filter((s) => s.okPct < 99.9)
  if (failing.length > 0) {
    console.log("")
    for (const s of failing) {
      const codes = Object.entries(s.statusCodes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}×${v}`).join(" ")
      console.log(`! ${s.name}: only ${fmt.pct(s.okPct)} 2xx (status codes: ${codes || "none"}; errors ${s.errors}, timeouts ${s.timeouts}); req/s counts every answer whatever its status, errors not at all`)
    }
  }

  console.log("")
  console.log("target CPU: the target's CPU time per second of load (100% = its whole core: the target was the bottleneck).")
  console.log("other CPU: CPU used during the rounds by processes outside the bench (builds, tests); above ~10% the numbers are disturbed.")
  const noisy = summary.filter((s) => s.maxForeignCpuPct > 10)
  if (noisy.length > 0) {
    console.log(`! other processes used CPU during ${noisy.length} scenario(s) (up to ${Math.round(Math.max(...noisy.map((s) => s.maxForeignCpuPct)))}% of a core): these numbers, ratios included, are not reliable: rerun on a quiet machine`)
  }

  const out = join(BENCH_DIR, "results", "latest.json")
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, `${JSON.stringify({
    date: started.toISOString(),
    finished: new Date().toISOString(),
    machine,
    settings: { connections: CONNECTIONS, pipelining: PIPELINING, rounds: ROUNDS, durationSeconds: DURATION, warmupSeconds: WARMUP, requestTimeoutSeconds: REQUEST_TIMEOUT, quick: QUICK, baseline: BASELINE },
    scenarios: summary
  }, null, 2)}\n`)
  console.log(`\nresults: ${out}`)
}

const onSignal = (signal, code) => process.once(signal, () => {
  console.error(`\n! ${signal}: stopping`)
  aborted = true
  currentLoad?.stop()
  stopAll().finally(() => process.exit(code))
})
onSignal("SIGINT", 130)
onSignal("SIGTERM", 143)

main().then(
  () => stopAll().then(() => process.exit(aborted ? 1 : 0)),
  (e) => {
    if (!aborted) console.error(`! bench failed: ${e?.stack ?? e}`)
    aborted = true
    currentLoad?.stop()
    return stopAll().then(() => process.exit(1))
  }
)
