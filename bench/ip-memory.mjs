// The per-IP limiter's memory with 1,000,000 distinct client IPs (issue 5, issue 10 §6):
// the compiled LocalBuckets of the gateway, bounded by rate_limit.per_ip.max_tracked.
//   node bench/ip-memory.mjs [max_tracked]      (after npm run build; run with --expose-gc for exact heap)
import { LocalBuckets } from "../dist/layers/LocalBuckets.js"

const maxTracked = Number(process.argv[2] ?? 100_000)
const spec = { scope: "ip", limit: 300, ratePerMs: 300 / 60_000, burst: 500, label: "ip" }
const heap = () => {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed / 1_048_576
}
const buckets = new LocalBuckets(maxTracked)
const before = heap()
const samples = []
let now = Date.now()
for (let i = 0; i < 1_000_000; i++) {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
  buckets.check([{ spec, key: ip }], now++)
  if ((i + 1) % 200_000 === 0) samples.push({ ips: i + 1, tracked: buckets.ips.size, heapMB: heap() })
}
console.log(`max_tracked ${maxTracked}; heap before ${before.toFixed(1)} MB`)
for (const s of samples) console.log(`after ${String(s.ips).padStart(9)} IPs: tracked ${s.tracked}, heap ${s.heapMB.toFixed(1)} MB`)
const flat = samples.at(-1).heapMB - samples[0].heapMB
console.log(`heap growth from 200,000 to 1,000,000 IPs: ${flat.toFixed(1)} MB (bounded: ${buckets.ips.size <= maxTracked})`)
if (buckets.ips.size > maxTracked) process.exit(1)
