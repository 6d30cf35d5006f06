import { assert, describe, it } from "@effect/vitest"
import { type Admission, type BreakerSettings, CircuitBreaker, type Transition } from "../../src/domain/CircuitBreaker.js"

const settings: BreakerSettings = { maxRequests: 2, intervalMs: 10_000, timeoutMs: 60_000, failureRatio: 0.6, minRequests: 3 }

const make = (over: Partial<BreakerSettings> = {}, now = 0) => {
  const transitions: Array<Transition> = []
  const breaker = new CircuitBreaker({ ...settings, ...over }, now, (t) => transitions.push(t))
  return { breaker, transitions }
}

const admitted = (a: Admission): number => {
  if (a._tag !== "Admitted") return assert.fail(`expected the request to be admitted, got ${JSON.stringify(a)}`)
  return a.generation
}

const rejected = (a: Admission): number => {
  if (a._tag !== "Rejected") return assert.fail("expected the request to be rejected")
  return a.retryAfterMs
}

/** One request from admission to outcome at `now`. */
const call = (b: CircuitBreaker, outcome: "success" | "failure" | "neither", now: number) =>
  b.record(admitted(b.admit(now)), outcome, now)

const trip = (b: CircuitBreaker, now: number) => {
  for (let i = 0; i < 3; i++) call(b, "failure", now)
  assert.strictEqual(b.current(now), "open")
}

describe("CircuitBreaker", () => {
  describe("closed", () => {
    it("starts closed and admits requests", () => {
      const { breaker, transitions } = make()
      assert.strictEqual(breaker.current(0), "closed")
      admitted(breaker.admit(0))
      assert.deepStrictEqual(transitions, [])
    })

    it("does not trip below min_requests, even when every request fails", () => {
      const { breaker } = make()
      call(breaker, "failure", 1)
      call(breaker, "failure", 2)
      assert.strictEqual(breaker.current(3), "closed")
    })

    it("trips once requests reach min_requests with every one failing", () => {
      const { breaker, transitions } = make()
      for (let i = 0; i < 3; i++) call(breaker, "failure", i)
      assert.strictEqual(breaker.current(3), "open")
      assert.deepStrictEqual(transitions, [{ from: "closed", to: "open" }])
    })

    it("trips when failures/requests reaches failure_ratio exactly", () => {
      const { breaker } = make()
      call(breaker, "success", 0)
      call(breaker, "success", 0)
      call(breaker, "failure", 0) // 1/3
      call(breaker, "failure", 0) // 2/4
      assert.strictEqual(breaker.current(0), "closed")
      call(breaker, "failure", 0) // 3/5 = 0.6
      assert.strictEqual(breaker.current(0), "open")
    })

    it("stays closed while the failure ratio is below failure_ratio", () => {
      const { breaker } = make()
      for (let i = 0; i < 20; i++) call(breaker, i % 2 === 1 ? "failure" : "success", i) // the ratio never exceeds 0.5
      assert.strictEqual(breaker.current(20), "closed")
    })

    it("counts admitted requests, so requests still in flight lower the ratio", () => {
      const { breaker } = make()
      admitted(breaker.admit(0))
      admitted(breaker.admit(0))
      call(breaker, "failure", 0) // 1 failure of 3 requests
      call(breaker, "failure", 0) // 2 of 4 = 0.5
      assert.strictEqual(breaker.current(0), "closed")
    })

    it("resets its counts every interval", () => {
      const { breaker } = make()
      call(breaker, "failure", 0)
      call(breaker, "failure", 9_999)
      call(breaker, "failure", 10_000) // a new interval began: 1 failure of 1
      assert.strictEqual(breaker.current(10_000), "closed")
      assert.strictEqual(breaker.counts.requests, 1)
      call(breaker, "failure", 10_001)
      call(breaker, "failure", 10_002)
      assert.strictEqual(breaker.current(10_002), "open")
    })

    it("never resets counts when the interval is 0", () => {
      const { breaker } = make({ intervalMs: 0 })
      call(breaker, "failure", 0)
      call(breaker, "failure", 1_000_000)
      call(breaker, "failure", 9_000_000)
      assert.strictEqual(breaker.current(9_000_000), "open")
    })

    it("ignores outcomes of requests admitted in an earlier interval", () => {
      const { breaker } = make()
      const old = admitted(breaker.admit(0))
      call(breaker, "failure", 10_000)
      call(breaker, "failure", 10_000)
      breaker.record(old, "failure", 10_000)
      assert.strictEqual(breaker.current(10_000), "closed")
      assert.strictEqual(breaker.counts.totalFailures, 2)
    })
  })

  describe("open", () => {
    it("rejects every request with the time left until the timeout", () => {
      const { breaker } = make()
      trip(breaker, 1_000)
      assert.strictEqual(rejected(breaker.admit(1_000)), 60_000)
      assert.strictEqual(rejected(breaker.admit(31_000)), 30_000)
      assert.strictEqual(rejected(breaker.admit(60_999)), 1)
    })

    it("ignores outcomes of requests admitted before it opened", () => {
      const { breaker, transitions } = make()
      const late = admitted(breaker.admit(0))
      call(breaker, "failure", 0)
      call(breaker, "failure", 0) // 2 failures of 3 requests
      assert.strictEqual(breaker.current(0), "open")
      breaker.record(late, "success", 1)
      breaker.record(late, "failure", 1)
      assert.strictEqual(breaker.current(1), "open")
      assert.strictEqual(transitions.length, 1)
    })

    it("turns half-open when the timeout has passed", () => {
      const { breaker, transitions } = make()
      trip(breaker, 1_000)
      assert.strictEqual(breaker.current(60_999), "open")
      assert.strictEqual(breaker.current(61_000), "half_open")
      assert.deepStrictEqual(transitions, [{ from: "closed", to: "open" }, { from: "open", to: "half_open" }])
    })
  })

  describe("half-open", () => {
    const halfOpen = () => {
      const made = make()
      trip(made.breaker, 0)
      assert.strictEqual(made.breaker.current(60_000), "half_open")
      return made
    }

    it("admits at most max_requests trials and rejects the rest at once", () => {
      const { breaker } = halfOpen()
      admitted(breaker.admit(60_000))
      admitted(breaker.admit(60_000))
      assert.isAbove(rejected(breaker.admit(60_001)), 0)
      assert.isAbove(rejected(breaker.admit(60_002)), 0)
    })

    it("closes when every trial succeeds", () => {
      const { breaker, transitions } = halfOpen()
      const a = admitted(breaker.admit(60_000))
      const b = admitted(breaker.admit(60_000))
      breaker.record(a, "success", 60_010)
      assert.strictEqual(breaker.current(60_010), "half_open")
      breaker.record(b, "success", 60_020)
      assert.strictEqual(breaker.current(60_020), "closed")
      assert.deepStrictEqual(transitions.at(-1), { from: "half_open", to: "closed" })
      assert.strictEqual(breaker.counts.requests, 0)
      admitted(breaker.admit(60_021))
    })

    it("reopens on one failed trial, for a whole new timeout", () => {
      const { breaker, transitions } = halfOpen()
      const a = admitted(breaker.admit(60_000))
      const b = admitted(breaker.admit(60_000))
      breaker.record(a, "success", 60_005)
      breaker.record(b, "failure", 60_010)
      assert.strictEqual(breaker.current(60_010), "open")
      assert.strictEqual(rejected(breaker.admit(60_010)), 60_000)
      assert.deepStrictEqual(transitions.at(-1), { from: "half_open", to: "open" })
      assert.strictEqual(breaker.current(120_010), "half_open")
    })

    it("frees a trial slot when a trial ends as neither success nor failure", () => {
      const { breaker } = halfOpen()
      const a = admitted(breaker.admit(60_000))
      admitted(breaker.admit(60_000))
      rejected(breaker.admit(60_000))
      breaker.record(a, "neither", 60_001)
      assert.strictEqual(breaker.current(60_001), "half_open")
      admitted(breaker.admit(60_002))
      rejected(breaker.admit(60_002))
    })

    it("ignores a trial admitted before the breaker reopened", () => {
      const { breaker } = halfOpen()
      const stale = admitted(breaker.admit(60_000))
      breaker.record(admitted(breaker.admit(60_000)), "failure", 60_001)
      assert.strictEqual(breaker.current(60_001), "open")
      breaker.record(stale, "success", 60_002)
      assert.strictEqual(breaker.current(60_002), "open")
    })
  })

  describe("transitions and reset", () => {
    it("reports every transition with from and to, in order", () => {
      const { breaker, transitions } = make()
      trip(breaker, 0)
      breaker.current(60_000)
      const a = admitted(breaker.admit(60_000))
      breaker.record(a, "failure", 60_000)
      breaker.current(120_000)
      call(breaker, "success", 120_000)
      call(breaker, "success", 120_000)
      assert.deepStrictEqual(transitions, [
        { from: "closed", to: "open" },
        { from: "open", to: "half_open" },
        { from: "half_open", to: "open" },
        { from: "open", to: "half_open" },
        { from: "half_open", to: "closed" }
      ])
      assert.deepStrictEqual(breaker.lastTransition, { from: "half_open", to: "closed", at: 120_000 })
    })

    it("reset closes an open breaker and reports it", () => {
      const { breaker, transitions } = make()
      trip(breaker, 0)
      breaker.reset(5)
      assert.strictEqual(breaker.current(5), "closed")
      assert.deepStrictEqual(transitions.at(-1), { from: "open", to: "closed" })
      admitted(breaker.admit(5))
    })

    it("reset of a closed breaker clears its counts without a transition", () => {
      const { breaker, transitions } = make()
      call(breaker, "failure", 0)
      call(breaker, "failure", 0)
      const before = admitted(breaker.admit(0))
      breaker.reset(1)
      breaker.record(before, "failure", 1)
      call(breaker, "failure", 2)
      assert.strictEqual(breaker.current(2), "closed")
      assert.deepStrictEqual(transitions, [])
    })

    it("uses settings changed at run time", () => {
      const { breaker } = make()
      breaker.settings = { ...settings, minRequests: 1, failureRatio: 1 }
      call(breaker, "failure", 0)
      assert.strictEqual(breaker.current(0), "open")
    })
  })
})
