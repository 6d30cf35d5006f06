// One JSON log line, written by hand for the common case: the access log writes one per
// request, and JSON.stringify over a spread of the fields was ~4 % of a cache hit's CPU.
// The output is byte for byte JSON.stringify({ level, ts, msg, ...fields }) + "\n"
// (test/layers/JsonLine.test.ts checks that over arbitrary fields); a line this code
// would not write the same way (a field named like a leading key, or an integer-like
// key, which object spread would reorder) goes through JSON.stringify itself.
import { isPlain, jsonString } from "../domain/JsonString.js"
import { type AccessLine, accessMessage } from "../services/LogSink.js"

/** JSON.stringify(v), or undefined for what an object property skips. */
const jsonValue = (v: unknown): string | undefined => {
  switch (typeof v) {
    case "string":
      return jsonString(v)
    case "number":
      return Number.isFinite(v) ? String(v) : "null"
    case "boolean":
      return v ? "true" : "false"
    case "undefined":
    case "function":
    case "symbol":
      return undefined
    default:
      return JSON.stringify(v) // null, objects (toJSON included), bigint (throws, as before)
  }
}

const isDigit = (code: number) => code >= 48 && code <= 57

/**
 * `make`, remembered for the first `limit` keys: for the JSON written around a key that comes
 * from a handful of constants (log fields, span attributes), escaped once rather than each
 * time; bounded, since keys could in principle vary.
 */
export const remembered = (make: (key: string) => string, limit = 1_024): (key: string) => string => {
  const known = new Map<string, string>()
  return (key) => {
    let part = known.get(key)
    if (part === undefined) {
      part = make(key)
      if (known.size < limit) known.set(key, part)
    }
    return part
  }
}

// `,"key":`: lines use a few dozen constant keys
const keyPart = remembered((key) => `,${jsonString(key)}:`)

const jsonNumber = (n: number): number | string => (Number.isFinite(n) ? n : "null")
const optional = (key: string, v: string | undefined): string => (v === undefined ? "" : `,"${key}":"${v}"`)

/**
 * jsonLine("info", ts, "HTTP request", line), byte for byte, for the line every request logs:
 * its keys are known, so no walk over them, and when no value needs escaping (nearly always:
 * ids, paths, IPs) each goes between its quotes in one template, with no quoted copy of it
 * made first (test/layers/JsonLine.test.ts); a line with a value to escape is jsonLine's.
 */
export const accessJson = (ts: string, l: AccessLine): string =>
  // one test over the values joined: plain is a property of each code unit, so the joined
  // string is plain exactly when every value is (a regex call per value cost ~3k instructions a line)
  isPlain(`${ts}${l.request_id}${l.method ?? ""}${l.path ?? ""}${l.route}${l.query}${l.client_ip}${l.user_agent}${l.trace_id ?? ""}${l.caller ?? ""}${l.refused_by ?? ""}`)
    ? `{"level":"info","ts":"${ts}","msg":"HTTP request","request_id":"${l.request_id}"${optional("method", l.method)}${
      optional("path", l.path)},"route":"${l.route}","query":"${l.query}","status":${jsonNumber(l.status)},"duration_ms":${
      jsonNumber(l.duration_ms)},"client_ip":"${l.client_ip}","user_agent":"${l.user_agent}","request_size":${
      jsonNumber(l.request_size)},"response_size":${jsonNumber(l.response_size)}${optional("trace_id", l.trace_id)}${optional("caller", l.caller)}${
      optional("refused_by", l.refused_by)}}\n`
    : jsonLine("info", ts, accessMessage, l)

export const jsonLine = (level: string, ts: string, message: string, fields: Readonly<Record<string, unknown>>): string => {
  let line = `{"level":${jsonString(level)},"ts":${jsonString(ts)},"msg":${jsonString(message)}`
  for (const key of Object.keys(fields)) {
    if (key === "level" || key === "ts" || key === "msg" || isDigit(key.charCodeAt(0))) {
      return `${JSON.stringify({ level, ts, msg: message, ...fields })}\n`
    }
    const value = jsonValue(fields[key])
    if (value !== undefined) line += `${keyPart(key)}${value}`
  }
  return `${line}}\n`
}
