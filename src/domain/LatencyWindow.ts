// Upstream attempts of the last minute per service, for the admin API: sixty one-second
// slots, each a count, an error count and a log-scale latency histogram. Recording is O(1)
// and memory is fixed whatever the load; quantiles are within one bucket (≈5 %).
// Time is passed in, so the layer reads Clock and TestClock drives the window.
const slots = 60
const minMs = 0.05
const ratio = 1.1
const logRatio = Math.log(ratio)
const buckets = Math.ceil(Math.log(200_000 / minMs) / logRatio) + 1 // up to 200 s

interface Slot {
  second: number
  requests: number
  errors: number
  readonly histogram: Uint32Array
}

export interface WindowSummary {
  readonly requests: number
  readonly errors: number
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
}

const bucketOf = (ms: number): number =>
  ms <= minMs ? 0 : Math.min(buckets - 1, Math.ceil(Math.log(ms / minMs) / logRatio))

/** The upper bound of a bucket: a quantile is never reported below the truth. */
const upperMs = (bucket: number): number => minMs * Math.pow(ratio, bucket)

export class LatencyWindow {
  private readonly slots: Array<Slot> = Array.from({ length: slots }, () => ({
    second: -1,
    requests: 0,
    errors: 0,
    histogram: new Uint32Array(buckets)
  }))

  record(nowMs: number, latencyMs: number, failed: boolean): void {
    const second = Math.floor(nowMs / 1000)
    const slot = this.slots[second % slots]!
    if (slot.second !== second) {
      slot.second = second
      slot.requests = 0
      slot.errors = 0
      slot.histogram.fill(0)
    }
    slot.requests++
    if (failed) slot.errors++
    slot.histogram[bucketOf(latencyMs)]!++
  }

  summary(nowMs: number): WindowSummary {
    const second = Math.floor(nowMs / 1000)
    const merged = new Uint32Array(buckets)
    let requests = 0
    let errors = 0
    for (const slot of this.slots) {
      if (slot.second <= second - slots || slot.second > second) continue
      requests += slot.requests
      errors += slot.errors
      for (let i = 0; i < buckets; i++) merged[i]! += slot.histogram[i]!
    }
    const quantile = (q: number): number | undefined => {
      if (requests === 0) return undefined
      const rank = Math.ceil(q * requests)
      let seen = 0
      for (let i = 0; i < buckets; i++) {
        seen += merged[i]!
        if (seen >= rank) return upperMs(i)
      }
      return upperMs(buckets - 1)
    }
    return { requests, errors, p50Ms: quantile(0.5), p99Ms: quantile(0.99) }
  }
}
