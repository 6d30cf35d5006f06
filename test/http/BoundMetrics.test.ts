// Bound children write into prom-client's own series: a bound metric and a twin updated
// through prom-client's public API must render the same text, through resets and across
// label sets, including values above every bucket, on bucket bounds and not finite.
import { assert, describe, it } from "@effect/vitest"
import { Counter, Histogram, Registry } from "prom-client"
import { bindCounter, bindHistogram } from "../../src/services/BoundMetrics.js"

const buckets = [0.005, 0.1, 1, 10]

const twins = () => {
  const bound = new Registry()
  const plain = new Registry()
  const make = (registers: Array<Registry>) => ({
    counter: new Counter({ name: "t_requests_total", help: "h", labelNames: ["method", "status"], registers }),
    histogram: new Histogram({ name: "t_duration_seconds", help: "h", labelNames: ["method"], buckets, registers })
  })
  return { bound: make([bound]), plain: make([plain]), render: async () => [await bound.metrics(), await plain.metrics()] as const }
}

describe("BoundMetrics", () => {
  it("renders what prom-client's own updates render", async () => {
    const { bound, plain, render } = twins()
    const get = bindCounter(bound.counter, { method: "GET", status: "200" })
    const post = bindCounter(bound.counter, { method: "POST", status: "503" })
    const getTimer = bindHistogram(bound.histogram, { method: "GET" })
    const values = [0.001, 0.005, 0.0051, 0.1, 0.5, 1, 9.99, 10, 10.01, 1e6, 0]
    for (let round = 0; round < 3; round++) {
      for (const v of values) {
        get.inc()
        plain.counter.inc({ method: "GET", status: "200" })
        getTimer.observe(v)
        plain.histogram.observe({ method: "GET" }, v)
      }
      post.inc()
      plain.counter.inc({ method: "POST", status: "503" })
    }
    const [a, b] = await render()
    assert.strictEqual(a, b)
    assert.include(a, 't_requests_total{method="GET",status="200"} 33')
    assert.include(a, 't_duration_seconds_bucket{le="+Inf",method="GET"} 33')
    assert.include(a, 't_duration_seconds_bucket{le="0.005",method="GET"} 9')
  })

  it("keeps counting after a reset, from zero, like prom-client", async () => {
    const { bound, plain, render } = twins()
    const get = bindCounter(bound.counter, { method: "GET", status: "200" })
    const timer = bindHistogram(bound.histogram, { method: "GET" })
    get.inc()
    timer.observe(0.2)
    bound.counter.reset()
    bound.histogram.reset()
    get.inc()
    get.inc()
    timer.observe(2)
    plain.counter.inc({ method: "GET", status: "200" }, 2)
    plain.histogram.observe({ method: "GET" }, 2)
    const [a, b] = await render()
    assert.strictEqual(a, b)
    assert.include(a, 't_requests_total{method="GET",status="200"} 2')
  })

  it("refuses what prom-client refuses: a value that is not finite, a label it does not know", () => {
    const { bound } = twins()
    const timer = bindHistogram(bound.histogram, { method: "GET" })
    timer.observe(1)
    assert.throws(() => timer.observe(Number.NaN), /not a valid number/)
    const wrong = bindCounter(bound.counter, { method: "GET", code: "200" } as never)
    assert.throws(() => wrong.inc(), /label/i)
  })
})
