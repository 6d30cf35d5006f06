// Bundles the compiled gateway (dist/main.js and everything it imports, node_modules
// included) into dist/gateway.cjs, and puts scripts/gateway-loader.mjs beside it as
// dist/gateway.mjs, what `npm start` runs: it runs the bundle through V8's code cache. Loading
// ~900 separate modules cost ~1.1 s of CPU at start-up (resolution, file reads, per-module
// compilation); one file starts in ~0.56 s, ~0.46 s with the code cache (issue 10, target 7).
// CommonJS, not an ES module: node 20 has no code cache for ES modules that a program can use.
// The CLIs (token, gatewayctl) stay unbundled.
import { build } from "esbuild"
import { copyFileSync, readdirSync, rmSync } from "node:fs"

// whitespace and comments stripped, names kept: V8 holds the source as long as the process runs
// (README: 9.2 MB of two-byte text before, 3.1 MB one-byte after)
const result = await build({
  entryPoints: ["dist/main.js"],
  outfile: "dist/gateway.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  sourcemap: "linked", // run with NODE_OPTIONS=--enable-source-maps for stacks in src/ terms
  legalComments: "none",
  minifyWhitespace: true,
  logLevel: "warning",
  metafile: true,
  // the sources are ES modules: strict mode for all of it, as when it was one; import.meta.url
  // (BuildInfoFile finds the project's root from it) is the bundle's own URL
  define: { "import.meta.url": "__gatewayUrl" },
  // import() becomes require(): the loader compiles the bundle with vm.Script, and node 20 loses a
  // script's dynamic-import callback when V8 takes its code cache (the OTLP exporter's
  // import("http") then failed with ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING, every export with it)
  supported: { "dynamic-import": false },
  banner: { js: "\"use strict\";const __gatewayUrl=require(\"node:url\").pathToFileURL(__filename).href;" }
})
copyFileSync("scripts/gateway-loader.mjs", "dist/gateway.mjs")
rmSync("dist/gateway.mjs.map", { force: true }) // the map of the bundle when it was an ES module
// the code caches of an earlier bundle (the loader would refuse them by their name anyway)
for (const f of readdirSync("dist")) if (f.startsWith("gateway.cjs.") && f.endsWith(".cache")) rmSync(`dist/${f}`)
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)?.bytes ?? 0
console.log(`dist/gateway.cjs: ${(bytes / 1_048_576).toFixed(1)} MB from ${Object.keys(result.metafile.inputs).length} modules; dist/gateway.mjs runs it`)
