// dist/gateway.mjs, what `npm start` runs (scripts/bundle.mjs copies this file there): it runs the
// bundled gateway, dist/gateway.cjs, through V8's code cache. A start without a cache parses the
// 2.7 MB bundle and compiles every function start-up calls, ~100 ms of its ~560 ms of CPU; a few
// seconds after such a start, the process writes what V8 compiled into a cache file next to the
// bundle, and later starts read it instead (issue 10, target 7). The file's name carries a hash
// of the bundle's bytes (V8 itself checks only the source's length, and would take a stale cache
// of a rebuilt bundle of the same length), node's version and the process's node flags (V8
// refuses a cache made under other flags). A cache V8 refuses, an unwritable directory (the
// Docker image's dist/ is read-only) or GATEWAY_CODE_CACHE=off: the bundle is compiled as
// without one, nothing else changes. The cache sits next to the bundle, not in a shared
// temporary directory: V8 runs what it deserializes, so only who can write the bundle may write it.
// With --enable-source-maps the bundle is loaded by require, which applies its source map (a
// script compiled here would not get one), and without a cache.
import { createHash } from "node:crypto"
import { isAscii } from "node:buffer"
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import Module, { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import vm from "node:vm"

const dir = dirname(fileURLToPath(import.meta.url))
const file = join(dir, "gateway.cjs")
if (process.sourceMapsEnabled) createRequire(import.meta.url)(file)
else runCached()

function runCached() {
  const bytes = readFileSync(file)
  const source = bytes.toString(isAscii(bytes) ? "latin1" : "utf8") // esbuild writes ASCII: no decoding to do
  const enabled = process.env.GATEWAY_CODE_CACHE !== "off"
  const hash = (...parts) => createHash("sha1").update(parts.join("\0")).digest("hex").slice(0, 16)
  const build = createHash("sha1").update(bytes).digest("hex").slice(0, 16)
  const cacheFile = join(dir, `gateway.cjs.${build}.${hash(process.version, process.arch, ...process.execArgv)}.cache`)
  let cachedData
  if (enabled) {
    try {
      cachedData = readFileSync(cacheFile)
    } catch {
      // none yet
    }
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    cachedData
    // no importModuleDynamically: node 20 drops it from a script V8 compiled from a cache, so the
    // bundle holds no import() (scripts/bundle.mjs makes each a require)
  })
  const module = { exports: {}, id: file, filename: file, loaded: false }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dir)

  if (enabled && (cachedData === undefined || script.cachedDataRejected === true)) {
    // after start-up has compiled what it runs; a process that ends sooner leaves it to the next
    setTimeout(() => {
      try {
        const temporary = `${cacheFile}.${process.pid}`
        writeFileSync(temporary, script.createCachedData())
        renameSync(temporary, cacheFile) // atomic: workers starting together each write a whole file
        for (const other of readdirSync(dir)) {
          // an earlier bundle's caches (scripts/bundle.mjs removes them too); other flags' are kept
          if (other.startsWith("gateway.cjs.") && other.endsWith(".cache") && !other.startsWith(`gateway.cjs.${build}.`)) rmSync(join(dir, other), { force: true })
        }
      } catch {
        // a read-only directory: every start compiles, as without a cache
      }
    }, 5_000).unref()
  }
}
