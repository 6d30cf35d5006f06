// Bundles the compiled gateway (dist/main.js and everything it imports, node_modules
// included) into dist/gateway.mjs, what `npm start` runs. Loading ~900 separate modules cost
// ~1.1 s of CPU at start-up (resolution, file reads, per-module compilation); one file
// starts in ~0.6 s (issue 10, target 7). The CLIs (token, gatewayctl) stay unbundled.
import { build } from "esbuild"

// whitespace and comments stripped, names kept: V8 holds the source as long as the process runs
// (README: 9.2 MB of two-byte text before, 3.1 MB one-byte after)
const result = await build({
  entryPoints: ["dist/main.js"],
  outfile: "dist/gateway.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked", // run with NODE_OPTIONS=--enable-source-maps for stacks in src/ terms
  legalComments: "none",
  minifyWhitespace: true,
  logLevel: "warning",
  metafile: true,
  // CommonJS dependencies (undici, ioredis, prom-client…) call require() for Node's builtins
  banner: { js: "import { createRequire as __gatewayRequire } from \"node:module\"; const require = __gatewayRequire(import.meta.url);" }
})
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)?.bytes ?? 0
console.log(`dist/gateway.mjs: ${(bytes / 1_048_576).toFixed(1)} MB from ${Object.keys(result.metafile.inputs).length} modules`)
