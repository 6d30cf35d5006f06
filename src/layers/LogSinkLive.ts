import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { type AccessLine, accessMessage, type Fields, type Level, LogSink } from "../services/LogSink.js"
import { makeIsoTime } from "./IsoTime.js"
import { accessJson, jsonLine } from "./JsonLine.js"
import { RotatingFile } from "./RotatingFile.js"

const rank: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 }

// the ISO text once a millisecond, its date and time part once a second (IsoTime.ts)
const isoTime = makeIsoTime()
const timestamp = (): string => isoTime(Date.now())

const jsonFormat = (level: Level, message: string, fields: Fields): string => jsonLine(level, timestamp(), message, fields)

const consoleValue = (v: unknown): string => (typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v))

const consoleLine = (level: Level, message: string, fields: Fields): string => {
  let line = `${timestamp()} ${level.toUpperCase().padEnd(5)} ${message}`
  for (const key in fields) if (fields[key] !== undefined) line += ` ${key}=${consoleValue(fields[key])}`
  return `${line}\n`
}

// Lines are batched per event-loop turn: one write call under load instead of one per line.
// Each line is encoded into one reused buffer as it is made, so the turn's lines are not kept
// alive as strings until the flush and encoded there (a cache hit: 30.5 → 28.5 µs of CPU in one
// interleaved comparison, within noise in another).
const batchBytes = 256 * 1024
export const LogSinkLive = Layer.scoped(
  LogSink,
  Effect.gen(function* () {
    const gatewayConfig = yield* GatewayConfig
    const { config } = yield* gatewayConfig.current
    const settings = config.logging
    const format = settings.format === "console" ? consoleLine : jsonFormat
    const formatAccess = settings.format === "console"
      ? (line: AccessLine) => consoleLine("info", accessMessage, line)
      : (line: AccessLine) => accessJson(timestamp(), line)
    const file = settings.output === "file"
      ? new RotatingFile({
        path: settings.file_path,
        maxBytes: settings.max_size * 1_048_576,
        maxAgeDays: settings.max_age,
        maxBackups: settings.max_backups,
        compress: settings.compress
      })
      : undefined
    const stream = settings.output === "stderr" ? process.stderr : process.stdout
    const target = (bytes: Uint8Array) => (file !== undefined ? file.write(bytes) : stream.write(bytes))
    let minimum = rank[settings.level]
    const batch = Buffer.allocUnsafe(batchBytes)
    let used = 0
    let scheduled = false
    const flush = () => {
      scheduled = false
      if (used === 0) return
      const bytes = Buffer.from(batch.subarray(0, used)) // a copy: a stream may hold on to what it is given
      used = 0
      target(bytes)
    }
    // the level is reloadable (SPEC §1); format and output need a restart
    yield* gatewayConfig.changes.pipe(
      Stream.runForEach((s) => Effect.sync(() => (minimum = rank[s.config.logging.level]))),
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      flush()
      file?.close()
    }))
    const append = (line: string) => {
      // UTF-8 takes at most 3 bytes per UTF-16 unit
      if (line.length * 3 > batchBytes - used) {
        flush() // the lines before it go first
        if (line.length * 3 > batchBytes) {
          target(Buffer.from(line)) // longer than a batch: on its own
          return
        }
      }
      used += batch.write(line, used)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    }
    return LogSink.of({
      enabled: (level) => rank[level] >= minimum,
      write: (level, message, fields) => {
        if (rank[level] >= minimum) append(format(level, message, fields))
      },
      access: (line) => {
        if (rank.info >= minimum) append(formatAccess(line))
      },
      setLevel: (level) => {
        minimum = rank[level]
      },
      flush
    })
  })
)
