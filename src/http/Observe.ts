// The access log line and the HTTP metrics of one request, recorded when its response
// closes (finished or aborted). Label children are bound once per method and route.
import { type BoundCounter, type BoundHistogram, bindCounter, bindHistogram } from "../services/BoundMetrics.js"
import type { AccessLine, LogSink } from "../services/LogSink.js"
import { methodLabel, type GatewayMetrics } from "../services/Metrics.js"
import type { RequestContext } from "./RequestContext.js"

interface Children {
  readonly duration: BoundHistogram
  readonly requestSize: BoundHistogram
  readonly responseSize: BoundHistogram
  readonly byStatus: Map<number, BoundCounter>
}

const secretParams = /(^|&)((?:access_)?token|api_key|apikey|key|password|secret)=[^&]*/gi

/** SPEC §5: never a credential in the log, including a `token` query value. */
export const redactQuery = (query: string): string => (query === "" ? "" : query.replace(secretParams, "$1$2=REDACTED"))

/** Every access line goes through here (both kinds: LogSink.AccessLine). */
export const writeAccessLine = (sink: LogSink["Type"], line: AccessLine): void => sink.access(line)

/** A client that went away before any status: nginx's 499, so it is told apart from a 5xx. */
const clientClosed = 499

export const makeObserver = (metrics: GatewayMetrics, sink: LogSink["Type"]) => {
  // by route template, then method: no key string to build per request
  const children = new Map<string, Map<string, Children>>()
  const childrenOf = (method: string, path: string): Children => {
    let byMethod = children.get(path)
    if (byMethod === undefined) children.set(path, (byMethod = new Map()))
    let c = byMethod.get(method)
    if (c === undefined) {
      c = {
        duration: bindHistogram(metrics.httpDuration, { method, path }),
        requestSize: bindHistogram(metrics.httpRequestSize, { method, path }),
        responseSize: bindHistogram(metrics.httpResponseSize, { method, path }),
        byStatus: new Map()
      }
      byMethod.set(method, c)
    }
    return c
  }

  return (ctx: RequestContext): void => {
    const { req, res } = ctx
    // a WebSocket's 101 is written by ws on the raw socket, not through res
    const status = res.headersSent || res.statusCode === 101 ? res.statusCode : clientClosed
    const seconds = (performance.now() - ctx.startedAt) / 1000
    const method = methodLabel(req.method)
    const path = ctx.endpoint?.template ?? "unmatched"
    const c = childrenOf(method, path)
    let counter = c.byStatus.get(status)
    if (counter === undefined) c.byStatus.set(status, (counter = bindCounter(metrics.httpRequests, { method, path, status: String(status) })))
    counter.inc()
    c.duration.observe(seconds)
    c.requestSize.observe(ctx.requestBytes)
    c.responseSize.observe(ctx.responseBytes)
    ctx.trace?.end(status, ctx.endpoint?.template, { "http.request.id": ctx.requestId })
    if (!ctx.plan.accessLog || !sink.enabled("info")) return
    writeAccessLine(sink, {
      request_id: ctx.requestId,
      method: req.method,
      path: ctx.target?.raw ?? (req.url ?? "").split("?")[0],
      route: path,
      query: redactQuery(ctx.target?.query ?? ""),
      status,
      duration_ms: Math.round(seconds * 100_000) / 100,
      client_ip: ctx.clientIp,
      user_agent: req.headers["user-agent"] ?? "",
      request_size: ctx.requestBytes,
      response_size: ctx.responseBytes,
      trace_id: ctx.traceId,
      caller: ctx.caller
    })
  }
}
