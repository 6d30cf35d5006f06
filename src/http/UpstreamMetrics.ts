// api_gateway_upstream_requests_total and _duration_seconds of the attempts to one service
// with one method: bound children, found once per request, with no label key built.
import type { ServiceName } from "../domain/ServiceName.js"
import { type BoundCounter, type BoundHistogram, bindCounter, bindHistogram } from "../services/BoundMetrics.js"
import type { GatewayMetrics } from "../services/Metrics.js"

export class UpstreamSeries {
  private readonly duration: BoundHistogram
  private readonly byStatus = new Map<string, BoundCounter>()

  constructor(private readonly metrics: GatewayMetrics, private readonly service: ServiceName, private readonly method: string) {
    this.duration = bindHistogram(metrics.upstreamDuration, { service, method })
  }

  /** One attempt: its status ("error" when none came) and how long it took. */
  record(status: string, seconds: number): void {
    let counter = this.byStatus.get(status)
    if (counter === undefined) {
      counter = bindCounter(this.metrics.upstreamRequests, { service: this.service, method: this.method, status })
      this.byStatus.set(status, counter)
    }
    counter.inc()
    this.duration.observe(seconds)
  }
}

/** The series of a service and method label, made on first use. */
export const makeUpstreamMetrics = (metrics: GatewayMetrics) => {
  const series = new Map<ServiceName, Map<string, UpstreamSeries>>()
  return (service: ServiceName, method: string): UpstreamSeries => {
    let byMethod = series.get(service)
    if (byMethod === undefined) series.set(service, (byMethod = new Map()))
    let s = byMethod.get(method)
    if (s === undefined) byMethod.set(method, (s = new UpstreamSeries(metrics, service, method)))
    return s
  }
}
