import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { accessJson, jsonLine, remembered } from "../../src/layers/JsonLine.js"
import type { AccessLine } from "../../src/services/LogSink.js"

const reference = (level: string, ts: string, msg: string, fields: Record<string, unknown>) =>
  `${JSON.stringify({ level, ts, msg, ...fields })}\n`

// strings with quotes, backslashes, control characters, lone and paired surrogates
const text = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("", "a\"b", "a\\b", "\n", "\u2028", "\ud800", "\udc00x", "😀", "ü"))
const value: fc.Arbitrary<unknown> = fc.oneof(
  text,
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 1e21, NaN, Infinity, -Infinity, true, false, null, undefined),
  fc.constant(() => 1),
  fc.constant(Symbol("s")),
  fc.constant(new Date(0)),
  fc.array(fc.oneof(text, fc.integer(), fc.constant(undefined))),
  fc.dictionary(text, fc.oneof(text, fc.integer()))
)
const key = fc.oneof(text, fc.constantFrom("level", "ts", "msg", "0", "1", "10", "01", "-1", "request_id", "__proto__x"))

describe("jsonLine", () => {
  it("writes what JSON.stringify of the spread fields writes, for arbitrary fields", () => {
    fc.assert(
      fc.property(text, text, text, fc.dictionary(key, value), (level, ts, msg, fields) => {
        expect(jsonLine(level, ts, msg, fields)).toBe(reference(level, ts, msg, fields))
      }),
      { numRuns: 2_000 }
    )
  })

  it("writes an access log line like JSON.stringify", () => {
    const fields = {
      request_id: "3e6e677d-9237-4313-951a-cea4369fe807", method: "GET", path: "/api/v1/orders/ü\"x", route: "/api/v1/orders/{id}",
      query: "a=1&token=REDACTED", status: 200, duration_ms: 1.23, client_ip: "::1", user_agent: "curl/8\u0001",
      request_size: 0, response_size: 104, trace_id: undefined, caller: "k:bench"
    }
    const line = jsonLine("info", "2026-11-29T09:25:52.123Z", "HTTP request", fields)
    expect(line).toBe(reference("info", "2026-11-29T09:25:52.123Z", "HTTP request", fields))
    expect(JSON.parse(line)).toMatchObject({ level: "info", msg: "HTTP request", path: "/api/v1/orders/ü\"x", status: 200 })
    expect(line).not.toContain("trace_id")
  })

  it("writes an access line (both kinds) exactly as jsonLine does, for arbitrary values", () => {
    const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-0, 1e21, NaN, Infinity))
    const optionalText = fc.option(text, { nil: undefined })
    const common = {
      request_id: text, method: optionalText, path: optionalText, route: text, query: text, status: number, duration_ms: number,
      client_ip: text, user_agent: text, request_size: number, response_size: number
    }
    // the two call sites' objects, keys in their order: a handled request, and one node's parser refused
    const line: fc.Arbitrary<AccessLine> = fc.oneof(
      fc.record({ ...common, trace_id: optionalText, caller: optionalText }),
      fc.record({ ...common, refused_by: text })
    )
    fc.assert(
      fc.property(text, line, (ts, l) => {
        expect(accessJson(ts, l)).toBe(jsonLine("info", ts, "HTTP request", l))
        expect(accessJson(ts, l)).toBe(reference("info", ts, "HTTP request", l))
      }),
      { numRuns: 2_000 }
    )
  })

  it("writes a line with nothing to escape (the common one) and one with a value to escape alike", () => {
    const plain: AccessLine = {
      request_id: "3e6e677d-9237-4313-951a-cea4369fe807", method: "GET", path: "/api/v1/market-data/ticker/BTC-USD", route: "/api/v1/market-data/ticker/:symbol",
      query: "", status: 200, duration_ms: 0.61, client_ip: "127.0.0.1", user_agent: "", request_size: 0, response_size: 104, trace_id: undefined, caller: "bench"
    }
    for (const l of [plain, { ...plain, user_agent: "curl \"8\"" }, { ...plain, caller: "ü\n" }, { ...plain, status: NaN, duration_ms: -0 }]) {
      expect(accessJson("2026-11-29T19:20:00.000Z", l)).toBe(reference("info", "2026-11-29T19:20:00.000Z", "HTTP request", l))
    }
  })

  it("keeps JSON.stringify's order and overrides for a field named level or an integer-like key", () => {
    expect(jsonLine("info", "t", "m", { level: "x", 2: "b", a: 1 })).toBe(`{"2":"b","level":"x","ts":"t","msg":"m","a":1}\n`)
  })

  it("throws on a bigint, as JSON.stringify does", () => {
    expect(() => jsonLine("info", "t", "m", { n: 1n })).toThrow(TypeError)
  })

  it("remembers what it made for the first keys only, and always answers the same", () => {
    const made: Array<string> = []
    const part = remembered((key) => {
      made.push(key)
      return `<${key}>`
    }, 2)
    expect(["a", "b", "a", "c", "b", "c", "a"].map(part)).toEqual(["<a>", "<b>", "<a>", "<c>", "<b>", "<c>", "<a>"])
    expect(made).toEqual(["a", "b", "c", "c"]) // a and b kept; c, past the bound, made each time
  })
})
