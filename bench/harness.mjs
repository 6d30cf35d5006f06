// Shared by the bench runners (bench/run.mjs, bench/rss.mjs): the gateway's bench config, child
// processes (pinned, tracked, killed on exit), readiness probes, /proc readings and a tiny Redis
// client. The helper processes themselves use bench/common.mjs only.
//
// Every child is tracked in `children`: killed with SIGKILL when this process exits (the
// "exit" hook below), politely by stopAll(). Helpers also exit when their stdin closes and are
// spawned under `setpriv --pdeathsig KILL` when available, so none outlives a SIGKILLed runner.
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { request as httpRequest } from "node:http"
import { connect, createServer } from "node:net"
import os from "node:os"
import { dirname, join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { stringify as toYaml } from "yaml"

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
export const ROOT = dirname(BENCH_DIR)
export const HOST = "127.0.0.1"

/** A positive number from env `name`, or `fallback` when unset; anything else is an error. */
export const positive = (name, fallback) => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got ${JSON.stringify(raw)}`)
  return n
}

/** The value after `--name` on the command line, or `fallback`. */
export const option = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback
}

/** The median of the finite numbers among `values`, null when there is none. */
export const median = (values) => {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

// ---------------------------------------------------------------- the gateway's bench config

export const API_KEY = "bench-viewer-key-0123456789"
export const JWT_SECRET = "bench-jwt-secret-0123456789abcdefghijklm" // 40 chars
if (JWT_SECRET.length !== 40) throw new Error("JWT_SECRET must be 40 characters")

const SERVICES = [
  "market_data", "order_execution", "strategy_engine", "account_monitor", "dashboard_server", "risk_manager", "configuration"
]

/** The gateway's bench config (SPEC §2 keys); the backend URL and port are filled in at start. */
export const gatewayConfig = ({ port, backend }) => ({
  server: { host: HOST, port, mode: "test", workers: 1 },
  services: Object.fromEntries(SERVICES.map((name) => [name, { url: backend }])),
  auth: { enabled: true, jwt_secret: JWT_SECRET, api_keys: [{ key: API_KEY, role: "viewer", name: "bench" }] },
  rate_limit: {
    enabled: true,
    store: "memory",
    global: { requests_per_second: 1_000_000, burst: 2_000_000 },
    // target 1 of issue 10: global + endpoint + per-IP buckets, none of which refuses
    endpoints: { "/api/v1/market-data": { requests_per_second: 1_000_000, burst: 2_000_000 } },
    per_ip: { requests_per_minute: 100_000_000, burst: 100_000_000 }
  },
  cache: { enabled: false },
  health: { enabled: true, check_services: false },
  logging: { level: "info", format: "json", output: "stdout" },
  features: { enable_tracing: false, enable_access_log: true }
})

const isPlainObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v)
export const deepMerge = (base, patch) => {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch
  const out = { ...base }
  for (const [k, v] of Object.entries(patch)) out[k] = deepMerge(base[k], v)
  return out
}

// ---------------------------------------------------------------- child processes

export const children = new Set()
export const alive = (child) => child.exitCode === null && child.signalCode === null
let tmpDir

/** A private temporary directory (gateway configs), removed on exit. */
export const makeTmpDir = (prefix = "gateway-bench-") => (tmpDir ??= mkdtempSync(join(os.tmpdir(), prefix)))

export const killAllSync = () => {
  for (const child of children) if (alive(child)) try { child.kill("SIGKILL") } catch { /* gone */ }
  if (tmpDir) try { rmSync(tmpDir, { recursive: true, force: true }) } catch { /* best effort */ }
}
process.on("exit", killAllSync)

let stopping
/** SIGTERM every child, SIGKILL whatever still runs 3 s later; once. */
export const stopAll = () => (stopping ??= (async () => {
  const running = [...children].filter(alive)
  const exited = running.map((child) => new Promise((resolve) => child.once("exit", resolve)))
  for (const child of running) try { child.kill("SIGTERM") } catch { /* gone */ }
  await Promise.race([Promise.all(exited), sleep(3_000)])
  killAllSync()
})())

export const commandWorks = (cmd, args) => {
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
export const planPinning = () => {
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
export const spawnNode = (label, args, { cpu, env, stdio, pinning }) => {
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
export const childEnv = (extra) => {
  const env = { ...process.env, ...extra }
  for (const name of ["SERVER_PORT", "SERVER_HOST", "LOG_LEVEL", "JWT_SECRET", "REDIS_URL", "AUTH_ENABLED", "CACHE_ENABLED", "RATE_LIMIT_ENABLED", "NODE_OPTIONS"]) {
    if (!(name in (extra ?? {}))) delete env[name]
  }
  return env
}

export const withTimeout = (promise, ms, what) => {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms) })
  ]).finally(() => clearTimeout(timer))
}

/** Start a helper script of bench/ and wait for its `LISTENING <port>` line. */
export const startScript = (label, script, { cpu, env, pinning }) => {
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

export const freePort = () => new Promise((resolve, reject) => {
  const srv = createServer()
  srv.once("error", reject)
  srv.listen(0, HOST, () => {
    const { port } = srv.address()
    srv.close(() => resolve(port))
  })
})

/** One request: { status, body } (body cut to `limit` chars), or { error }. */
export const probe = (port, path, headers = {}, method = "GET", body, limit = 200) => new Promise((resolve) => {
  const req = httpRequest({ host: HOST, port, path, method, headers, agent: false, timeout: 2_000 }, (res) => {
    let text = ""
    res.setEncoding("utf8")
    res.on("data", (c) => { if (text.length < limit) text += c })
    res.on("end", () => resolve({ status: res.statusCode, body: text.slice(0, limit) }))
    res.on("error", (e) => resolve({ error: e.message }))
  })
  req.on("timeout", () => req.destroy(new Error("timed out")))
  req.on("error", (e) => resolve({ error: e.message }))
  req.end(body)
})

/**
 * Start `node dist/gateway.mjs` with the start script's flags (gatewayNodeFlags) and the bench
 * config deep-merged with `patch`; resolves once `ready` answers 200. The run discards the
 * gateway's output (its access log), so when it dies early it is run once more to show why.
 */
export const startGateway = async (label, { patch = {}, ready = "/health/liveness" }, { backend, cpu, pinning, env: extraEnv = {} }) => {
  const main = join(ROOT, "dist", "gateway.mjs")
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first (npm run bench and npm run bench:rss do)`)
  const port = await freePort()
  const configPath = join(makeTmpDir(), `${label}.yaml`)
  const config = deepMerge(gatewayConfig({ port, backend }), patch)
  writeFileSync(configPath, `# written by the bench harness (bench/harness.mjs)\n${toYaml(config)}`)
  const env = childEnv({ ...extraEnv, CONFIG_PATH: configPath })
  const spawnedAt = Date.now()
  const child = spawnNode(label, [...gatewayNodeFlags, main], { cpu, env, stdio: "ignore", pinning })
  const deadline = Date.now() + 60_000
  for (;;) {
    if (!alive(child)) {
      let output = ""
      try {
        execFileSync(process.execPath, [...gatewayNodeFlags, main], { cwd: ROOT, env, timeout: 15_000, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      } catch (e) {
        output = `${e.stdout ?? ""}${e.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n")
      }
      throw new Error(`${label} exited before answering ${ready} (${child.signalCode ?? `code ${child.exitCode}`}); config ${configPath}:\n${output}`)
    }
    const r = await probe(port, ready)
    if (r.status === 200) return { child, port, configPath, startupCpuMs: cpuMs(child.pid), startupWallMs: Date.now() - spawnedAt }
    if (Date.now() > deadline) throw new Error(`${label} did not answer 200 on ${ready} within 60 s (last: ${r.status ?? r.error})`)
    await sleep(100)
  }
}

// ---------------------------------------------------------------- readings

/** The code caches dist/gateway.mjs has written for the current bundle (scripts/gateway-loader.mjs). */
export const codeCaches = () => readdirSync(join(ROOT, "dist")).filter((f) => /^gateway\.cjs\..+\.cache$/.test(f))

/** utime + stime of a process in ms, from /proc/<pid>/stat (USER_HZ 100; null when unknown). */
export const cpuMs = (pid) => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return null
  }
}

/** Resident set size of a process in MB, from /proc/<pid>/status (null when unknown). */
export const rssMb = (pid) => {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

/** The sum of every series of a Prometheus metric in an exposition text (null when absent). */
export const metricSum = (text, name) => {
  const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))].map((m) => Number(m[1]))
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0)
}

/** The gateway's /metrics text ("" when it does not answer). */
export const scrapeMetrics = async (port) => {
  const r = await probe(port, "/metrics", {}, "GET", undefined, 1_000_000)
  return r.status === 200 ? r.body : ""
}

// ---------------------------------------------------------------- Redis

/**
 * A few commands on one short connection to `url` (redis://host:port/db), in RESP2, bounded by
 * `timeoutMs`. Independent of the gateway and of ioredis on purpose: it only flushes and
 * inspects the bench's logical DB. Resolves to the replies (integers, strings, bulk strings);
 * rejects when Redis does not answer or answers an error.
 */
export const redisCommands = (url, commands, timeoutMs = 2_000) => new Promise((resolve, reject) => {
  const u = new URL(url)
  const all = [["SELECT", u.pathname.slice(1) || "0"], ...commands]
  const encode = (args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join("")}`
  const socket = connect({ host: u.hostname, port: Number(u.port || 6379) })
  const replies = []
  let buffered = Buffer.alloc(0)
  let done = false
  const finish = (error) => {
    if (done) return
    done = true
    clearTimeout(timer)
    socket.destroy()
    if (error) reject(error)
    else resolve(replies.slice(1)) // without SELECT's +OK
  }
  const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
  /** One reply from the start of `buffered`: [value, bytes used], or undefined when incomplete. */
  const parseOne = () => {
    const eol = buffered.indexOf("\r\n")
    if (eol < 0) return undefined
    const head = buffered.toString("utf8", 1, eol)
    switch (String.fromCharCode(buffered[0])) {
      case "+": return [head, eol + 2]
      case "-": return [new Error(head), eol + 2]
      case ":": return [Number(head), eol + 2]
      case "$": {
        const len = Number(head)
        if (len < 0) return [null, eol + 2]
        if (buffered.length < eol + 2 + len + 2) return undefined
        return [buffered.toString("utf8", eol + 2, eol + 2 + len), eol + 2 + len + 2]
      }
      default: return [new Error(`unexpected reply ${JSON.stringify(buffered.toString("utf8", 0, Math.min(40, buffered.length)))}`), buffered.length]
    }
  }
  socket.on("connect", () => socket.write(all.map(encode).join("")))
  socket.on("data", (chunk) => {
    buffered = Buffer.concat([buffered, chunk])
    for (let r = parseOne(); r !== undefined; r = parseOne()) {
      buffered = buffered.subarray(r[1])
      if (r[0] instanceof Error) return finish(r[0])
      replies.push(r[0])
      if (replies.length === all.length) return finish()
    }
  })
  socket.on("error", finish)
  socket.on("close", () => finish(new Error("connection closed")))
})

/**
 * The pid of the redis-server behind `url` when it is visible here (same pid namespace), so its
 * CPU can be told apart from unrelated load; undefined otherwise.
 */
export const redisPid = async (url) => {
  try {
    const [info] = await redisCommands(url, [["INFO", "server"]])
    const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1])
    return Number.isInteger(pid) && readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("redis") ? pid : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------- running a bench script

/**
 * Runs a bench script's `main` and exits: 0 when it resolves to anything but `false` and was
 * not aborted, else 1; on SIGINT/SIGTERM `abort()` stops its load, every child is stopped and
 * the exit code is 130/143. `isAborted()` tells whether the script already gave up.
 */
export const runMain = (label, main, { abort, isAborted }) => {
  const onSignal = (signal, code) => process.once(signal, () => {
    console.error(`\n! ${signal}: stopping`)
    abort()
    stopAll().finally(() => process.exit(code))
  })
  onSignal("SIGINT", 130)
  onSignal("SIGTERM", 143)
  main().then(
    (pass) => stopAll().then(() => process.exit(isAborted() || pass === false ? 1 : 0)),
    (e) => {
      if (!isAborted()) console.error(`! ${label} failed: ${e?.stack ?? e}`)
      abort()
      return stopAll().then(() => process.exit(1))
    }
  )
}

/**
 * Node's flags from package.json's start script (`node [flags] dist/gateway.mjs`): the bench
 * runs the gateway as `npm start`, the Dockerfile and the Kubernetes manifest do.
 */
export const gatewayNodeFlags = (() => {
  const start = String(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts?.start ?? "").trim().split(/\s+/)
  if (start[0] !== "node" || start.at(-1) !== "dist/gateway.mjs") throw new Error(`package.json: the start script is not "node [flags] dist/gateway.mjs": ${start.join(" ")}`)
  return start.slice(1, -1)
})()

/** What the run ran on, for the printed header and the results file. */
export const machineInfo = (pinning, layout) => ({
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  node: process.version,
  gatewayFlags: gatewayNodeFlags.join(" "),
  pinned: pinning.pinned,
  pinning: pinning.pinned ? layout : `unpinned: ${pinning.why}`
})
