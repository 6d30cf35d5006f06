// `npm run bench:alloc`: the garbage a request makes, and which functions make it. The target
// runs with node's inspector on a loopback port; after a warm-up, V8's sampling heap profiler
// (HeapProfiler.startSampling, counting the objects that scavenges and full collections free
// too, not only those still alive) records while a fixed number of requests go through, and
// the bytes allocated a request are printed, in all and by the function that allocated them.
// What a request allocates, not what it costs in time: allocation drives the young
// generation's scavenges, and the gateway's footprint is what its time swings with on a noisy
// machine (README, Performance; docs/performance-log.md).
//
//   node bench/alloc.mjs [--bundle dist/gateway.mjs (a copy of it needs its gateway.cjs beside it)] [--scenario hit|proxied|bare|local] [--warm 30000]
//                        [--count 20000] [--patch '{"features":{"enable_access_log":false}}'] [--top 40]
//
// hit: cache hits (memory store), API key, the bench config's limits, access log on; proxied:
// the same GET without the cache; bare: the bench's bare node:http + undici proxy; local: the
// bench's bare node:http server answering the same bytes itself (the cache hit's reference).
// --patch: JSON merged into the gateway's config. Loopback only; stops by itself.
import autocannon from "autocannon"
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import WebSocket from "ws"
import { API_KEY, childEnv, children, deepMerge, freePort, gatewayConfig, gatewayNodeFlags, makeTmpDir, option, probe, ROOT, runMain, startScript, withTimeout } from "./harness.mjs"

const bundle = resolve(option("bundle", join(ROOT, "dist", "gateway.mjs")))
const scenario = option("scenario", "proxied")
const warm = Number(option("warm", 30_000))
const count = Number(option("count", 20_000))
const top = Number(option("top", 40))
const patch = JSON.parse(option("patch", "{}"))
const PATCHES = { hit: { cache: { enabled: true, rules: { "/api/v1/market-data": { ttl: "60s", shared: true } } } }, proxied: {} }
const BARE = { bare: "bare-proxy.mjs", local: "bare-local.mjs" }

/** One Chrome DevTools Protocol session over the inspector's WebSocket. */
const inspect = async (url) => {
  const ws = new WebSocket(url)
  await withTimeout(new Promise((done, fail) => ws.once("open", done).once("error", fail)), 10_000, "the inspector")
  let id = 0
  const pending = new Map()
  ws.on("message", (text) => {
    const message = JSON.parse(text)
    pending.get(message.id)?.(message)
    pending.delete(message.id)
  })
  const call = (method, params = {}) => withTimeout(new Promise((done) => {
    pending.set(++id, done)
    ws.send(JSON.stringify({ id, method, params }))
  }), 120_000, method).then((reply) => {
    if (reply.error) throw new Error(`${method}: ${reply.error.message}`)
    return reply.result
  })
  return { call, close: () => ws.close() }
}

const main = async () => {
  if (!(scenario in PATCHES) && !(scenario in BARE)) throw new Error(`--scenario: hit, proxied, bare or local, not ${scenario}`)
  if (scenario in BARE && Object.keys(patch).length > 0) throw new Error("--patch configures the gateway, not the bare servers")
  if (![warm, count, top].every(Number.isInteger) || warm < 0 || count < 1 || top < 0) throw new Error("--warm, --count and --top: whole numbers (count ≥ 1)")
  const pinning = { pinned: false }
  const backend = await startScript("backend", "backend.mjs", { pinning })
  const port = await freePort()
  const inspectorPort = await freePort()
  const dir = makeTmpDir()
  const configPath = join(dir, "alloc.json")
  writeFileSync(configPath, JSON.stringify(deepMerge(gatewayConfig({ port, backend: `http://127.0.0.1:${backend.port}` }), deepMerge(PATCHES[scenario] ?? {}, patch))))
  const inspectFlag = `--inspect=127.0.0.1:${inspectorPort}`
  const program = scenario in BARE ? [inspectFlag, join(ROOT, "bench", BARE[scenario])] : [...gatewayNodeFlags, inspectFlag, bundle]
  const child = spawn(process.execPath, program, {
    cwd: ROOT, env: childEnv({ CONFIG_PATH: configPath, PORT: String(port), BACKEND_URL: `http://127.0.0.1:${backend.port}` }),
    stdio: ["pipe", "ignore", "pipe"] // an open stdin: the bench's helpers (the bare servers) exit when it ends
  })
  children.add(child)
  let stderr = ""
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-8_000)))
  const deadline = Date.now() + 30_000
  while ((await probe(port, "/health/liveness")).status !== 200) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the target did not become ready:\n${stderr}`)
    await sleep(100)
  }
  const url = /ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/.exec(stderr)?.[0]
  if (url === undefined) throw new Error(`no inspector address in the target's output:\n${stderr}`)
  const load = (amount) => new Promise((done, fail) => autocannon({
    url: `http://127.0.0.1:${port}/api/v1/market-data/ticker/BTC-USD`, connections: 64, amount, timeout: 30, headers: { "x-api-key": API_KEY }
  }, (e, r) => (e ? fail(e) : done(r))))
  if (warm > 0) await load(warm)
  const session = await inspect(url)
  await session.call("HeapProfiler.enable")
  await session.call("HeapProfiler.startSampling", { samplingInterval: 256, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true })
  const result = await load(count)
  const { profile } = await session.call("HeapProfiler.stopSampling")
  session.close()
  if (result["2xx"] !== count) throw new Error(`${result["2xx"]} of ${count} requests answered 2xx`)
  // self bytes by function (name, file, line): the profile is a call tree with each node's own bytes
  const self = new Map()
  let total = 0
  const walk = (node) => {
    const f = node.callFrame
    const name = `${f.functionName || "(anonymous)"} ${f.url.replace(/^file:\/\//, "").replace(`${ROOT}/`, "")}:${f.lineNumber + 1}:${f.columnNumber + 1}`
    self.set(name, (self.get(name) ?? 0) + node.selfSize)
    total += node.selfSize
    for (const c of node.children) walk(c)
  }
  walk(profile.head)
  const perRequest = (bytes) => `${Math.round(bytes / count).toLocaleString("en-US").padStart(7)} B`
  console.log(`${scenario in BARE ? `bench/${BARE[scenario]}` : bundle} ${scenario}${Object.keys(patch).length > 0 ? ` ${JSON.stringify(patch)}` : ""}: ${perRequest(total).trim()} allocated a request (${count} sampled after ${warm} to warm up)`)
  if (top > 0) {
    console.log(`top ${top} functions (bytes they allocated themselves, a request):`)
    for (const [name, bytes] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${perRequest(bytes)}  ${name.slice(0, 160)}`)
  }
}

runMain("alloc", main, { abort: () => {}, isAborted: () => false })
