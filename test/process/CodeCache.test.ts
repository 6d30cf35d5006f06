// dist/gateway.mjs, the loader `npm start` runs (scripts/gateway-loader.mjs), with a small
// CommonJS program in place of the bundle, in a directory of its own: it writes V8's code cache
// beside the bundle a few seconds after a start without one, later starts read it, a cache V8
// refuses is written again, a rebuilt bundle never runs an earlier one's cache (even of the same
// length, which V8 alone would take), and GATEWAY_CODE_CACHE=off or --enable-source-maps
// reads and writes none.
// `npm test` builds dist/ first; run `npm run build` before running this file alone.
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const loader = resolve("dist", "gateway.mjs")

/** A bundle that prints `word` and what the loader gave it, then lives `lifeMs` (LIFE_MS). */
const bundle = (word: string) =>
  `"use strict";let x=0;function f(){for(let i=0;i<100;i++)x+=i;return x}f();` +
  `console.log(JSON.stringify({word:${JSON.stringify(word)},filename:__filename,dirname:__dirname,strict:(function(){return this===undefined})(),required:typeof require("node:path").join}));` +
  `setTimeout(()=>{},Number(process.env.LIFE_MS))\n`

const run = (dir: string, lifeMs: number, env: Record<string, string> = {}) =>
  new Promise<{ readonly word: string; readonly filename: string; readonly dirname: string; readonly strict: boolean; readonly required: string }>((done, fail) =>
    execFile(process.execPath, [join(dir, "gateway.mjs")], { env: { ...process.env, ...env, LIFE_MS: String(lifeMs) }, timeout: 20_000 }, (error, stdout, stderr) =>
      error ? fail(new Error(`${error.message}\n${stderr}`)) : done(JSON.parse(stdout.trim()))
    )
  )

const caches = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".cache")).sort()

const setUp = (word: string) => {
  const dir = mkdtempSync(join(tmpdir(), "gateway-code-cache-"))
  copyFileSync(loader, join(dir, "gateway.mjs"))
  writeFileSync(join(dir, "gateway.cjs"), bundle(word))
  return dir
}

// a start that lives past the loader's 5 s writes the cache; one that ends at once does not
const writes = 6_500

describe("the code cache of dist/gateway.mjs", () => {
  it("is written after a start without one, read by the next start, and written again when V8 refuses it", async () => {
    const dir = setUp("first")
    try {
      const out = await run(dir, 0)
      assert.deepStrictEqual(out, { word: "first", filename: join(dir, "gateway.cjs"), dirname: dir, strict: true, required: "function" })
      assert.deepStrictEqual(caches(dir), [], "a process that ended at once wrote a cache")

      await run(dir, writes)
      const [cache] = caches(dir)
      assert.isDefined(cache, "no cache after a start that lived past 5 s")
      assert.match(cache!, /^gateway\.cjs\.[0-9a-f]{16}\.[0-9a-f]{16}\.cache$/)
      const written = readFileSync(join(dir, cache!))
      assert.isAbove(written.length, 0)
      const { mtimeMs } = statSync(join(dir, cache!))

      // a cache V8 takes is not written again
      assert.strictEqual((await run(dir, writes)).word, "first")
      assert.deepStrictEqual(caches(dir), [cache])
      assert.strictEqual(statSync(join(dir, cache!)).mtimeMs, mtimeMs, "a cache V8 took was written again")

      // one it refuses (damaged) is
      writeFileSync(join(dir, cache!), Buffer.from("not a code cache"))
      assert.strictEqual((await run(dir, writes)).word, "first")
      assert.deepStrictEqual(caches(dir), [cache])
      assert.isAbove(readFileSync(join(dir, cache!)).length, "not a code cache".length, "the refused cache was not written again")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("never runs an earlier bundle's cache, even one of the same length, and removes it", async () => {
    const dir = setUp("before")
    try {
      await run(dir, writes)
      const [earlier] = caches(dir)
      assert.isDefined(earlier)
      writeFileSync(join(dir, "gateway.cjs"), bundle("latest")) // another bundle, the same length
      assert.strictEqual(bundle("before").length, bundle("latest").length)
      assert.strictEqual((await run(dir, writes)).word, "latest")
      const now = caches(dir)
      assert.strictEqual(now.length, 1)
      assert.notStrictEqual(now[0], earlier, "the rebuilt bundle's cache has the earlier one's name")
      assert.strictEqual((await run(dir, 0)).word, "latest")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("GATEWAY_CODE_CACHE=off and --enable-source-maps (the bundle required, for its map) write none", async () => {
    const dir = setUp("off")
    try {
      assert.strictEqual((await run(dir, writes, { GATEWAY_CODE_CACHE: "off" })).word, "off")
      assert.deepStrictEqual(caches(dir), [])
      const required = await run(dir, writes, { NODE_OPTIONS: "--enable-source-maps" })
      assert.deepStrictEqual(required, { word: "off", filename: join(dir, "gateway.cjs"), dirname: dir, strict: true, required: "function" })
      assert.deepStrictEqual(caches(dir), [])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
