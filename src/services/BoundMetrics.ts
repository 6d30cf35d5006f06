// Children bound to one label set, for the request path. prom-client's own `labels()`
// children hash and validate their labels on every call (~1 µs each, several per request);
// a bound child hashes once and updates its series in place, the same object prom-client
// renders, aggregates across workers and resets. The first update of a series, and any
// update after a reset, goes through prom-client's own path, which creates and validates it.
// test/http/BoundMetrics.test.ts renders bound and unbound twins side by side, so a
// prom-client release that changes these internals fails there, not in production.
import type { Counter, Histogram } from "prom-client"
import { hashObject } from "prom-client/lib/util.js"

interface CounterInternals {
  readonly hashMap: Record<string, { value: number } | undefined>
  readonly sortedLabelNames: ReadonlyArray<string>
}

interface HistogramInternals {
  readonly hashMap: Record<string, { sum: number; count: number; bucketValues: Record<string, number> } | undefined>
  readonly sortedLabelNames: ReadonlyArray<string>
  readonly upperBounds: ReadonlyArray<number>
}

export interface BoundCounter {
  readonly inc: () => void
}

export interface BoundHistogram {
  readonly observe: (value: number) => void
}

export const bindCounter = <L extends string>(counter: Counter<L>, labels: Record<L, string>): BoundCounter => {
  const internals = counter as unknown as CounterInternals
  const hash = hashObject(labels, internals.sortedLabelNames)
  return {
    inc: () => {
      const series = internals.hashMap[hash]
      if (series === undefined) counter.inc(labels)
      else series.value += 1
    }
  }
}

export const bindHistogram = <L extends string>(histogram: Histogram<L>, labels: Record<L, string>): BoundHistogram => {
  const internals = histogram as unknown as HistogramInternals
  const hash = hashObject(labels, internals.sortedLabelNames)
  const bounds = internals.upperBounds
  // bucketValues is keyed by String(bound): converting the number on every update costs more than the update
  const keys = bounds.map(String)
  return {
    observe: (value) => {
      const series = internals.hashMap[hash]
      if (series === undefined || !Number.isFinite(value)) return histogram.observe(labels, value)
      series.sum += value
      series.count += 1
      for (let i = 0; i < bounds.length; i++) {
        if (value <= bounds[i]!) {
          series.bucketValues[keys[i]!]! += 1
          return
        }
      }
    }
  }
}
