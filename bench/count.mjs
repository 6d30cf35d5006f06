// `npm run bench:count`: user-space instructions per request, counted by callgrind, for
// comparing two builds on a machine whose speed will not hold still (a time-based A/B needs
// the same speed for both; an instruction count does not). The gateway runs under
// `valgrind --tool=callgrind` with counting off, is warmed up, then counts while a fixed number of
// requests go through; the count over the answered requests is printed. Paired runs of two
// builds agree within ~3 %; what valgrind's slowness changes (more event-loop turns, a new
// log timestamp per line) is the same for both.
//
//   node bench/count.mjs [--bundle dist/gateway.mjs (a copy of it needs its gateway.cjs beside it)] [--scenario hit|proxied|bare|local] [--warm 16000] [--count 4000]
//                        [--patch '{"features":{"enable_access_log":false}}'] [--tracing 0.01] [--functions 30] [--repeat 3]
//
// hit: cache hits (memory store), API key, the bench config's limits, access log on;
// proxied: the same GET without the cache; bare: the same GET through the bench's bare node:http +
// undici proxy (the ratios' reference, counted the same way); local: the bench's bare node:http server
// answering the same bytes itself (a cache hit's reference). --patch: JSON merged into the scenario's config
// (what one feature costs: the same scenario with and without it). --tracing: tracing on at
// that sample ratio, exporting to the bench's OTLP sink (started for it). --functions N: also the N
// functions with the most instructions of their own a request, JIT-compiled JavaScript named from
// the map node writes with --perf-basic-prof (callgrind alone shows it as bare addresses), the rest
// (V8's builtins and runtime, node's C++, libc) as callgrind_annotate names it; and those counts
// summed by kind (regular expressions, JavaScript, builtins, V8, node, libc). --repeat N: N counts,
// each with a fresh process, one after another, and their median: one build's counts spread by up
// to ~15 % on a slow or noisy machine (work that runs by the clock, compilation, collections).
// Needs valgrind (Debian: apt-get install valgrind).
// Loopback only; stops by itself (bounded waits, helpers die with this process).
import autocannon from "autocannon"
import { execFileSync, spawn } from "node:child_process"
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { API_KEY, childEnv, children, commandWorks, deepMerge, freePort, gatewayConfig, gatewayNodeFlags, makeTmpDir, median, option, probe, ROOT, runMain, startScript } from "./harness.mjs"

const bundle = resolve(option("bundle", join(ROOT, "dist", "gateway.mjs")))
const scenario = option("scenario", "hit")
const warm = Number(option("warm", 16_000))
const count = Number(option("count", 4_000))
const patch = JSON.parse(option("patch", "{}"))
const tracing = option("tracing", undefined)
const functions = Number(option("functions", 0))
const PATCHES = { hit: { cache: { enabled: true, rules: { "/api/v1/market-data": { ttl: "60s", shared: true } } } }, proxied: {}, bare: {}, local: {} }

const repeat = Number(option("repeat", 1))

/** --repeat N: this script run N times without --repeat, each count printed, then their median. */
const repeated = async () => {
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error("--repeat: a whole number (≥ 1)")
  const args = process.argv.slice(2)
  const i = args.indexOf("--repeat")
  args.splice(i, 2)
  const counts = []
  for (let n = 1; n <= repeat; n++) {
    const run = spawn(process.execPath, [process.argv[1], ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] })
    children.add(run)
    let out = ""
    run.stdout.on("data", (d) => {
      out += d
      process.stdout.write(d)
    })
    const code = await new Promise((done) => run.once("exit", done))
    const m = /: ([\d.]+)k instructions a request/.exec(out)
    if (code !== 0 || m === null) throw new Error(`count ${n} of ${repeat} failed (exit ${code})`)
    counts.push(Number(m[1]))
  }
  console.log(`median of ${repeat}: ${median(counts).toFixed(1)}k instructions a request (${Math.min(...counts).toFixed(1)}–${Math.max(...counts).toFixed(1)}k)`)
}

let child
const main = async () => {
  if (!(scenario in PATCHES)) throw new Error(`--scenario: hit, proxied, bare or local, not ${scenario}`)
  const reference = { bare: "bare-proxy.mjs", local: "bare-local.mjs" }[scenario]
  if (reference !== undefined && (tracing !== undefined || Object.keys(patch).length > 0)) throw new Error(`--tracing and --patch configure the gateway, not bench/${reference}`)
  if (!Number.isInteger(warm) || warm < 0 || !Number.isInteger(count) || count < 1) throw new Error("--warm and --count: whole numbers (count ≥ 1)")
  if (!Number.isInteger(functions) || functions < 0) throw new Error("--functions: a whole number")
  if (!commandWorks("valgrind", ["--version"]) || !commandWorks("callgrind_control", ["--version"])) throw new Error("valgrind is missing (Debian: apt-get install valgrind)")
  const pinning = { pinned: false }
  const backend = await startScript("backend", "backend.mjs", { pinning })
  const ratio = Number(tracing)
  if (tracing !== undefined && !(ratio >= 0 && ratio <= 1)) throw new Error(`--tracing: a sample ratio from 0 to 1, not ${tracing}`)
  const sink = tracing === undefined ? undefined : await startScript("otlp-sink", "otlp-sink.mjs", { pinning })
  const traced = sink === undefined ? {} : {
    features: { enable_tracing: true },
    tracing: { endpoint: `http://127.0.0.1:${sink.port}/v1/traces`, service_name: "api-gateway-count", sample_ratio: ratio }
  }
  const port = await freePort()
  const dir = makeTmpDir()
  const configPath = join(dir, "count.json")
  writeFileSync(configPath, JSON.stringify(deepMerge(gatewayConfig({ port, backend: `http://127.0.0.1:${backend.port}` }), deepMerge(deepMerge(PATCHES[scenario], traced), patch))))
  const out = join(dir, "callgrind.out")
  // --perf-basic-prof also turns on V8's code log, which would land in the checkout as isolate-*-v8.log
  const perfMap = functions > 0 ? ["--perf-basic-prof", "--no-logfile-per-isolate", `--logfile=${join(dir, "v8.log")}`] : []
  const program = reference !== undefined ? [...perfMap, join(ROOT, "bench", reference)] : [...gatewayNodeFlags, ...perfMap, bundle]
  child = spawn("valgrind", ["--tool=callgrind", "--instr-atstart=no", `--callgrind-out-file=${out}`, process.execPath, ...program], {
    cwd: ROOT, env: childEnv({ CONFIG_PATH: configPath, PORT: String(port), BACKEND_URL: `http://127.0.0.1:${backend.port}` }),
    stdio: ["pipe", "ignore", "pipe"] // an open stdin: the bench's helpers (the bare proxy) exit when it ends
  })
  children.add(child) // stopped with the helpers, on errors and signals too
  let stderr = ""
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4_000)))
  const deadline = Date.now() + 120_000 // start-up is ~50× slower under valgrind
  while ((await probe(port, "/health/liveness")).status !== 200) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the gateway did not become ready under valgrind:\n${stderr}`)
    await sleep(500)
  }
  const load = (amount) => new Promise((done, fail) => autocannon({
    url: `http://127.0.0.1:${port}/api/v1/market-data/ticker/BTC-USD`, connections: 16, amount, timeout: 60, headers: { "x-api-key": API_KEY }
  }, (e, r) => (e ? fail(e) : done(r))))
  if (warm > 0) await load(warm)
  execFileSync("callgrind_control", ["-i", "on", String(child.pid)], { stdio: "ignore", timeout: 30_000 })
  const result = await load(count)
  execFileSync("callgrind_control", ["-d", String(child.pid)], { stdio: "ignore", timeout: 60_000 })
  const dumps = readdirSync(dir).filter((f) => f.startsWith("callgrind.out"))
  let instructions = 0
  let busiest
  for (const f of dumps) {
    const m = /^summary: (\d+)/m.exec(readFileSync(join(dir, f), "utf8"))
    if (m && Number(m[1]) > instructions) {
      instructions = Number(m[1])
      busiest = f
    }
  }
  try {
    if (result["2xx"] !== count || instructions === 0) throw new Error(`${result["2xx"]} of ${count} requests answered 2xx; ${instructions} instructions counted`)
    if (functions > 0) printFunctions(join(dir, busiest), `/tmp/perf-${child.pid}.map`, count)
  } finally {
    for (const f of dumps) rmSync(join(dir, f))
    rmSync(`/tmp/perf-${child.pid}.map`, { force: true })
  }
  console.log(`${reference !== undefined ? `bench/${reference}` : bundle} ${scenario}${sink === undefined ? "" : ` tracing ${ratio}`}${Object.keys(patch).length > 0 ? ` ${JSON.stringify(patch)}` : ""}: ${(instructions / count / 1000).toFixed(1)}k instructions a request (${count} counted after ${warm} to warm up)`)
}

// V8's collectors (young and old generation, concurrent marking, sweeping) and its optimizing
// compilers (TurboFan, Maglev), by their C++ names
const gc = /heap::|v8::internal::(Heap::|Scavenge|Scavenger|MarkCompact|MinorMarkCompact|Marking|ConcurrentMarking|IncrementalMarking|Sweeper|Evacuat|MemoryAllocator|MemoryChunk|Page::|PagedSpace|NewSpace|SemiSpace|LargeObjectSpace|RememberedSet|SlotSet|GCTracer|Worklist)|MarkingVisitor|Scaveng/
const compiler = /v8::internal::(compiler|maglev|turboshaft)::|v8::internal::(Zone|OptimizedCompilationJob|Pipeline)/

/** Self instructions a request by function, JIT code named from node's perf map, and by kind. */
const printFunctions = (dump, mapFile, requests) => {
  const jit = []
  try {
    for (const line of readFileSync(mapFile, "utf8").split("\n")) {
      const [start, size, ...name] = line.split(" ")
      if (name.length > 0) jit.push([parseInt(start, 16), parseInt(size, 16), name.join(" ")])
    }
  } catch { /* no map: JIT code stays as addresses */ }
  const named = (fn) => {
    const m = /^\?\?\?:0x([0-9a-f]+)$/.exec(fn)
    if (m === null) return fn
    const address = parseInt(m[1], 16)
    for (let i = jit.length - 1; i >= 0; i--) if (jit[i][0] <= address && address < jit[i][0] + jit[i][1]) return jit[i][2] // the latest code there
    return fn
  }
  const text = execFileSync("callgrind_annotate", ["--threshold=100", dump], { encoding: "utf8", maxBuffer: 64 << 20, timeout: 120_000 })
  const self = new Map()
  for (const line of text.split("\n")) {
    const m = /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)(?:\s+\[[^\]]*\])?$/.exec(line)
    if (m === null || m[2] === "PROGRAM TOTALS") continue
    const name = named(m[2].trim()).replace(ROOT + "/", "")
    self.set(name, (self.get(name) ?? 0) + Number(m[1].replaceAll(",", "")))
  }
  const kind = (n) =>
    /^(JS|LazyCompile|Function):/.test(n) ? "JavaScript (JIT)"
      : /RegExp/.test(n) ? "regular expressions" // the compiled patterns (RegExp:…), V8's regex builtins and runtime
      : /Builtins_/.test(n) ? "V8 builtins"
      : gc.test(n) ? "V8 garbage collection"
      : compiler.test(n) ? "V8 optimizing compilers"
      : /v8::|heap::/.test(n) ? "V8 runtime (C++: strings, lookups…)"
      : /node::|uv_|llhttp/.test(n) ? "node (C++)"
      : /libc|malloc|\/string\/|stdio|libio/.test(n) ? "libc"
      : "other (unnamed JIT code, …)"
  const byKind = new Map()
  for (const [n, v] of self) byKind.set(kind(n), (byKind.get(kind(n)) ?? 0) + v)
  // whether a full collection or an optimization falls inside the counted requests moves a
  // count by several thousand instructions a request; without them, builds compare closer
  const settled = [...byKind].reduce((sum, [k, v]) => (k === "V8 garbage collection" || k === "V8 optimizing compilers" ? sum : sum + v), 0)
  const rows = (m, k) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([n, v]) => `${(v / requests / 1000).toFixed(2).padStart(7)}k  ${n.slice(0, 160)}`).join("\n")
  console.log(`by kind (self instructions a request):\n${rows(byKind, 10)}\n${(settled / requests / 1000).toFixed(1)}k a request without garbage collection and optimizing compilation\ntop ${functions} functions (self instructions a request):\n${rows(self, functions)}`)
}

runMain("count", repeat === 1 ? main : repeated, {
  abort: () => child?.kill("SIGKILL"),
  isAborted: () => false
})
