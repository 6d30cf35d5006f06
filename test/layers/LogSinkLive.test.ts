// The log sink writing to logging.output: file (src/layers/LogSinkLive.ts): lines are encoded
// into one batch buffer and written once per event-loop turn. Every line arrives whole and in
// order: across many batches filled in one turn, with text UTF-8 needs 2–4 bytes for (lines
// that would fit the batch by their length but not by their bytes), with a line longer than a
// batch (a log line or an access line), and what is pending when the layer closes.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { LogSinkLive } from "../../src/layers/LogSinkLive.js"
import { LogSink } from "../../src/services/LogSink.js"
import { makeConfigLayer } from "../support/TestConfig.js"

const sinkTo = (path: string, level: "debug" | "info" = "info") =>
  LogSinkLive.pipe(Layer.provide(makeConfigLayer({ logging: { level, format: "json", output: "file", file_path: path } })))

const linesOf = (path: string) => readFileSync(path, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>)

const withDir = <A, E>(use: (dir: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "gateway-logsink-"))),
    use,
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

describe("LogSinkLive (file output)", () => {
  it.effect("writes every line whole and in order: many batches in one turn, multi-byte text, a line longer than a batch", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const path = join(dir, "gateway.log")
        const texts = ["plain", "ü and 😀 and \u2028", "lone \ud800 surrogate", "é".repeat(100_000), "after the long one", "ü".repeat(60_000)]
        // access lines too, with text to escape and one longer than a batch
        const agents = ["tést", "curl/8 \"quoted\"\n", "x".repeat(100_000), "plain", "😀"]
        yield* Effect.scoped(Effect.gen(function* () {
          const sink = yield* LogSink
          for (let i = 0; i < 3_000; i++) {
            sink.write("info", "line", { n: i, text: texts[i % 7 === 0 ? (i / 7) % texts.length : 0] })
            if (i % 500 === 0) sink.access({
              request_id: `r${i}`, method: "GET", path: "/ü", route: "unmatched", query: "", status: 200, duration_ms: 0.5,
              client_ip: "::1", user_agent: agents[(i / 500) % agents.length]!, request_size: 0, response_size: 1, caller: undefined
            })
            sink.write("debug", "below the level", { n: i })
          }
        }).pipe(Effect.provide(sinkTo(path)))) // closing the layer flushes what is pending
        const lines = linesOf(path)
        const numbered = lines.filter((l) => l.msg === "line")
        assert.deepStrictEqual(numbered.map((l) => l.n), Array.from({ length: 3_000 }, (_, i) => i))
        numbered.forEach((l, i) => assert.strictEqual(l.text, texts[i % 7 === 0 ? (i / 7) % texts.length : 0]!, `line ${i}`))
        assert.deepStrictEqual(lines.filter((l) => l.msg === "HTTP request").map((l) => [l.request_id, l.path, l.user_agent]), [0, 500, 1_000, 1_500, 2_000, 2_500].map((i) => [`r${i}`, "/ü", agents[(i / 500) % agents.length]]))
        assert.isFalse(lines.some((l) => l.msg === "below the level"))
        // the access lines sit where they were written, each after line n
        for (const id of [500, 1_000, 1_500]) assert.strictEqual(lines[lines.findIndex((l) => l.request_id === `r${id}`) - 1]!.n, id)
      })))

  it.effect("writes a turn's lines once the turn ends, without waiting for the layer to close", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const path = join(dir, "gateway.log")
        yield* Effect.scoped(Effect.gen(function* () {
          const sink = yield* LogSink
          sink.write("warn", "first", {})
          sink.write("error", "second", { e: "x" })
          yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
          yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
          assert.deepStrictEqual(linesOf(path).map((l) => [l.level, l.msg]), [["warn", "first"], ["error", "second"]])
        }).pipe(Effect.provide(sinkTo(path, "debug"))))
      })))
})
