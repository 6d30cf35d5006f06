// One service's circuit breaker with gobreaker's semantics (SPEC §4), as a plain state
// machine over an injected clock reading: BreakerLive passes Clock's time, so TestClock
// drives every transition.
export type BreakerState = "closed" | "half_open" | "open"

export interface BreakerSettings {
  readonly maxRequests: number
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly failureRatio: number
  readonly minRequests: number
}

export interface Counts {
  requests: number
  totalSuccesses: number
  totalFailures: number
  consecutiveSuccesses: number
  consecutiveFailures: number
}

export type Admission =
  | { readonly _tag: "Admitted"; readonly generation: number }
  | { readonly _tag: "Rejected"; readonly retryAfterMs: number }

export type Outcome = "success" | "failure" | "neither"

export interface Transition {
  readonly from: BreakerState
  readonly to: BreakerState
}

const zero = (): Counts => ({ requests: 0, totalSuccesses: 0, totalFailures: 0, consecutiveSuccesses: 0, consecutiveFailures: 0 })

export class CircuitBreaker {
  state: BreakerState = "closed"
  counts: Counts = zero()
  generation = 0
  expiry = 0
  lastTransition: { readonly from: BreakerState; readonly to: BreakerState; readonly at: number } | undefined

  constructor(public settings: BreakerSettings, now: number, private readonly onTransition: (t: Transition) => void) {
    this.newGeneration(now)
  }

  current(now: number): BreakerState {
    if (this.state === "closed") {
      if (this.expiry !== 0 && this.expiry <= now) this.newGeneration(now)
    } else if (this.state === "open" && this.expiry <= now) {
      this.setState("half_open", now)
    }
    return this.state
  }

  admit(now: number): Admission {
    const state = this.current(now)
    if (state === "open") return { _tag: "Rejected", retryAfterMs: this.expiry - now }
    // half-open: at most max_requests trials; the rest fail fast
    if (state === "half_open" && this.counts.requests >= this.settings.maxRequests) {
      return { _tag: "Rejected", retryAfterMs: this.settings.timeoutMs }
    }
    this.counts.requests++
    return { _tag: "Admitted", generation: this.generation }
  }

  record(generation: number, outcome: Outcome, now: number): void {
    const state = this.current(now)
    if (generation !== this.generation) return
    if (outcome === "neither") {
      // a client abort says nothing about the backend, but frees its trial slot
      this.counts.requests = Math.max(0, this.counts.requests - 1)
      return
    }
    const c = this.counts
    if (outcome === "success") {
      c.totalSuccesses++
      c.consecutiveSuccesses++
      c.consecutiveFailures = 0
      if (state === "half_open" && c.consecutiveSuccesses >= this.settings.maxRequests) this.setState("closed", now)
    } else {
      c.totalFailures++
      c.consecutiveFailures++
      c.consecutiveSuccesses = 0
      if (state === "half_open") this.setState("open", now)
      else if (c.requests >= this.settings.minRequests && c.totalFailures / c.requests >= this.settings.failureRatio) {
        this.setState("open", now)
      }
    }
  }

  /** The operators' reset (admin API): closed, with fresh counts. */
  reset(now: number): void {
    if (this.state !== "closed") this.setState("closed", now)
    else this.newGeneration(now)
  }

  private setState(to: BreakerState, now: number): void {
    const from = this.state
    if (from === to) return
    this.state = to
    this.newGeneration(now)
    this.lastTransition = { from, to, at: now }
    this.onTransition({ from, to })
  }

  private newGeneration(now: number): void {
    this.generation++
    this.counts = zero()
    this.expiry = this.state === "closed"
      ? (this.settings.intervalMs > 0 ? now + this.settings.intervalMs : 0)
      : this.state === "open" ? now + this.settings.timeoutMs : 0
  }
}
