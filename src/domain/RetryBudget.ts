// SPEC §4 retry.budget_ratio: retries (waiting or in flight) to a service may not exceed
// this share of its requests in flight, and at least one is always allowed.
export class RetryBudget {
  private inFlight = 0
  private retrying = 0

  constructor(public ratio: number) {}

  enter(): void {
    this.inFlight++
  }

  leave(): void {
    this.inFlight--
  }

  tryStartRetrying(): boolean {
    if (this.retrying >= Math.max(1, Math.floor(this.ratio * this.inFlight))) return false
    this.retrying++
    return true
  }

  stopRetrying(): void {
    this.retrying--
  }

  get current(): { readonly inFlight: number; readonly retrying: number } {
    return { inFlight: this.inFlight, retrying: this.retrying }
  }
}
