// The gateway's memory over 1,000,000 requests, behind `npm run bench:rss` (performance target
// 6: RSS after 1,000,000 requests within 10 % of RSS after 100,000: no leak, so no more than
// 10 % above it; lower is fine).
//
//   npm run bench:rss                                      build, then 10 batches of 100,000
//   RSS_REQUESTS=20000 RSS_BATCH=10000 node bench/rss.mjs  smoke test (after npm run build)
//
// Starts the backend and the gateway with bench/run.mjs's default gateway config (API key auth,
// global + per-IP limits in memory, breaker, metrics, access log to /dev/null; no cache, no
// tracing), pinned like run.mjs does (gateway on one core; this process, i.e. autocannon, and
// the backend on the other), then sends RSS_REQUESTS proxied GETs with an API key, 64
// connections, in batches of RSS_BATCH (autocannon `amount`). After each batch it reads the
// gateway's RSS from /proc/<pid>/status 8 times over a quiet 2 s and keeps the lowest (under
// load RSS swings by tens of MB with the GC cycle) and its used heap from /metrics, then
// prints a table and the verdict against the first batch (whose requests include the
// warm-up: JIT, pools, buffers). Results also go to
// bench/results/rss-latest.json. Exit code 1 when the target is missed, the gateway exits or
// the run is cut short.
//
// Bounded: each batch is stopped after 30 s + 2 ms per request (at least 500 req/s, far below
// what the gateway does), the whole run after the sum of those plus 2 minutes; children are
// killed on exit, errors and SIGINT/SIGTERM (bench/harness.mjs).
import autocannon from "autocannon"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import {
  alive, API_KEY, BENCH_DIR, HOST, makeTmpDir, metricSum, planPinning, positive, probe, rssMb, scrapeMetrics, startGateway,
  machineInfo, runMain, startScript, stopAll, withTimeout
} from "./harness.mjs"

const REQUESTS = Math.round(positive("RSS_REQUESTS", 1_000_000))
const BATCH = Math.round(positive("RSS_BATCH", 100_000))
const CONNECTIONS = 64
const REQUEST_TIMEOUT = 5 // seconds
const TARGET_PCT = 10 // RSS at the end within this % of RSS after the first batch
// RSS swings by tens of MB with the garbage collector's cycle under load: each batch is
// followed by a quiet window, and the lowest RSS seen in it (the floor a leak would raise) is
// what batches are compared by
const SETTLE_MS = 2_000
const SETTLE_SAMPLES = 8
const MARKET = "/api/v1/market-data/ticker/BTC-USD"
const HEADERS = { "x-api-key": API_KEY }

if (BATCH >= REQUESTS) throw new Error(`RSS_BATCH (${BATCH}) must be smaller than RSS_REQUESTS (${REQUESTS}): the verdict compares the first batch with the end`)
const batches = Array.from({ length: Math.ceil(REQUESTS / BATCH) }, (_, i) => Math.min(BATCH, REQUESTS - i * BATCH))
const batchLimitS = (n) => 30 + n / 500

// ---------------------------------------------------------------- load

let currentLoad
let aborted = false // set on SIGINT/SIGTERM/deadline: no further batch is started

/** One batch of exactly `amount` requests, bounded by batchLimitS. */
const batch = (url, amount) => {
  if (aborted) return Promise.reject(new Error("aborted"))
  const limit = batchLimitS(amount)
  const instance = autocannon({ url, headers: HEADERS, connections: CONNECTIONS, pipelining: 1, timeout: REQUEST_TIMEOUT, amount })
  currentLoad = instance
  let cut = false
  const guard = setTimeout(() => { cut = true; instance.stop() }, limit * 1000)
  const t0 = performance.now()
  // req/s from the wall clock: autocannon's per-second average is skewed by the last, partial second
  return withTimeout(Promise.resolve(instance), (limit + 15) * 1000, `autocannon on ${url}`)
    .then((result) => ({ result, cut, reqPerSec: (result.requests.total / (performance.now() - t0)) * 1000 }))
    .finally(() => { clearTimeout(guard); currentLoad = undefined })
}

const fmt = {
  int: (n) => (n === null ? "—" : Math.round(n).toLocaleString("en-US")),
  mb: (n) => (n === null ? "—" : n.toFixed(1)),
  ms: (n) => (n === null ? "—" : Number.isInteger(n) ? String(n) : n.toFixed(1)),
  signedPct: (n) => (n === null ? "—" : `${n >= 0 ? "+" : ""}${n.toFixed(1)}%`)
}

const table = (header, rows, rightAligned) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => `| ${cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ")} |`
  const rule = `|${widths.map((w, i) => (rightAligned[i] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`
  return [line(header), rule, ...rows.map(line)].join("\n")
}

/** The gateway's RSS (/proc) and used heap (prom-client's default metric on /metrics). */
const sample = async (gateway) => {
  const heap = metricSum(await scrapeMetrics(gateway.port), "nodejs_heap_size_used_bytes")
  return { rssMb: rssMb(gateway.child.pid), heapUsedMb: heap === null ? null : heap / 1_048_576 }
}

/** The lowest RSS over the quiet window after a batch, and the used heap at its end. */
const settledSample = async (gateway) => {
  let floor = null
  for (let i = 0; i < SETTLE_SAMPLES; i++) {
    await sleep(SETTLE_MS / SETTLE_SAMPLES)
    const rss = rssMb(gateway.child.pid)
    if (rss !== null && (floor === null || rss < floor)) floor = rss
  }
  return { ...(await sample(gateway)), rssMb: floor }
}

// ---------------------------------------------------------------- main

const main = async () => {
  const started = new Date()
  const deadlineS = batches.reduce((a, n) => a + batchLimitS(n), 0) + 120
  setTimeout(() => {
    console.error(`! bench:rss exceeded ${Math.round(deadlineS)} s; stopping`)
    aborted = true
    currentLoad?.stop()
    stopAll().finally(() => process.exit(2))
  }, deadlineS * 1000).unref()

  const pinning = planPinning()
  const machine = machineInfo(pinning, `gateway on CPU ${pinning.targetCpu}; load generator (this process) and backend on CPU ${pinning.loadCpu}`)
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, pinned: ${pinning.pinned ? "yes" : "NO"} (${machine.pinning}); gateway run as node ${machine.gatewayFlags} dist/gateway.mjs`)
  console.log(`date: ${started.toISOString()}`)
  console.log(`settings: ${fmt.int(REQUESTS)} proxied GETs (API key) in ${batches.length} batches of ${fmt.int(BATCH)}, ${CONNECTIONS} connections; deadline ${Math.round(deadlineS)} s`)

  makeTmpDir()
  const backend = await startScript("backend", "backend.mjs", { cpu: pinning.loadCpu, pinning })
  const gateway = await startGateway("gateway", {}, { backend: `http://${HOST}:${backend.port}`, cpu: pinning.targetCpu, pinning })
  console.log(`started: backend :${backend.port}, gateway :${gateway.port} (pid ${gateway.child.pid})`)
  const pre = await probe(gateway.port, MARKET, HEADERS)
  console.log(`preflight: ${pre.error ? `error ${pre.error}` : `${pre.status} ${pre.body.replace(/\s+/g, " ").slice(0, 120)}`}`)
  if (pre.status !== 200) throw new Error("the gateway does not answer the bench request with 200")

  const url = `http://${HOST}:${gateway.port}${MARKET}`
  const rows = [{ batch: 0, requests: 0, reqPerSec: null, p99: null, non2xx: 0, errors: 0, ...(await sample(gateway)) }]
  let total = 0
  let cutShort = false
  for (const [i, amount] of batches.entries()) {
    const { result, cut, reqPerSec } = await batch(url, amount)
    if (aborted) return
    total += result.requests.total + result.errors
    const settled = await settledSample(gateway)
    const row = {
      batch: i + 1,
      requests: total,
      reqPerSec,
      p99: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors,
      ...settled,
      gatewayAlive: alive(gateway.child)
    }
    rows.push(row)
    console.log(`[batch ${i + 1}/${batches.length}] ${fmt.int(total)} requests, ${fmt.int(row.reqPerSec)} req/s, p99 ${fmt.ms(row.p99)} ms, RSS ${fmt.mb(row.rssMb)} MB, heap used ${fmt.mb(row.heapUsedMb)} MB` +
      `${row.non2xx ? `, ${row.non2xx} non-2xx` : ""}${row.errors ? `, ${row.errors} errors` : ""}${cut ? " (CUT SHORT at the batch limit)" : ""}${row.gatewayAlive ? "" : " GATEWAY EXITED"}`)
    if (cut || !row.gatewayAlive) {
      cutShort = true
      break
    }
  }

  const first = rows[1]
  const last = rows.at(-1)
  const vsFirst = (r) => (r.rssMb === null || first === undefined || first.rssMb === null ? null : (100 * (r.rssMb - first.rssMb)) / first.rssMb)
  console.log("")
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, pinned: ${pinning.pinned ? "yes" : "NO"} (${machine.pinning}); gateway run as node ${machine.gatewayFlags} dist/gateway.mjs`)
  console.log(`date: ${started.toISOString()}; gateway RSS (/proc/${gateway.child.pid}/status VmRSS): the lowest of ${SETTLE_SAMPLES} readings over ${SETTLE_MS} ms after each batch`)
  console.log("")
  console.log(table(
    ["batch", "requests", "req/s", "p99 ms", "non-2xx", "errors", "RSS MB", "heap used MB", "RSS vs batch 1"],
    rows.map((r) => [
      r.batch === 0 ? "start" : String(r.batch),
      fmt.int(r.requests),
      fmt.int(r.reqPerSec),
      fmt.ms(r.p99),
      fmt.int(r.non2xx),
      fmt.int(r.errors),
      fmt.mb(r.rssMb),
      fmt.mb(r.heapUsedMb),
      r.batch === 0 ? "" : fmt.signedPct(vsFirst(r))
    ]),
    [false, true, true, true, true, true, true, true, true]
  ))

  const growth = rows.length > 2 ? vsFirst(last) : null
  // the target is about a leak: RSS may end lower than after the first batch, not higher
  const pass = !cutShort && growth !== null && growth <= TARGET_PCT
  const bad = rows.reduce((a, r) => a + r.non2xx + r.errors, 0)
  console.log("")
  if (bad > 0) console.log(`! ${fmt.int(bad)} answers were not 2xx or failed: the requests did not all take the proxied path`)
  if (growth === null) console.log(`verdict: unknown (${cutShort ? "the run was cut short" : "RSS could not be read"}); target: within ${TARGET_PCT} %`)
  else {
    console.log(`verdict: RSS after ${fmt.int(last.requests)} is ${fmt.signedPct(growth)} against RSS after ${fmt.int(first.requests)} ` +
      `(${fmt.mb(first.rssMb)} → ${fmt.mb(last.rssMb)} MB): ${pass ? "meets" : "MISSES"} the target (no more than +${TARGET_PCT} %)${cutShort ? "; the run was cut short" : ""}`)
  }

  const out = join(BENCH_DIR, "results", "rss-latest.json")
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, `${JSON.stringify({
    date: started.toISOString(),
    finished: new Date().toISOString(),
    machine,
    settings: { requests: REQUESTS, batch: BATCH, connections: CONNECTIONS, requestTimeoutSeconds: REQUEST_TIMEOUT, settleMs: SETTLE_MS, targetPct: TARGET_PCT },
    samples: rows,
    rssGrowthPct: growth,
    pass,
    cutShort
  }, null, 2)}\n`)
  console.log(`\nresults: ${out}`)
  return pass
}

runMain("bench:rss", main, {
  abort: () => {
    aborted = true
    currentLoad?.stop()
  },
  isAborted: () => aborted
})
