// Headless Chromium for the dashboard suite: Debian's /usr/bin/chromium driven by
// playwright-core (no browser download). launch() gives every browser a fresh temporary
// --user-data-dir of its own (and refuses one in args); browser and contexts close with the scope.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { existsSync } from "node:fs"
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium } from "playwright-core"
import { repoRoot } from "./ProcessGateway.js"

export const chromiumPath = "/usr/bin/chromium"

const chromiumArgs = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"
]

/** test/artifacts/ (gitignored): screenshots a person can look at after the run. */
export const artifactPath = (name: string): Effect.Effect<string> =>
  Effect.promise(async () => {
    const dir = join(repoRoot, "test", "artifacts")
    await mkdir(dir, { recursive: true })
    return join(dir, name)
  })

export const launchChromium: Effect.Effect<Browser, never, Scope.Scope> = Effect.acquireRelease(
  Effect.gen(function* () {
    if (!existsSync(chromiumPath)) return yield* Effect.dieMessage(`${chromiumPath} is missing: apt-get install -y chromium`)
    return yield* Effect.promise(() => chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs }))
  }),
  (browser) => Effect.promise(() => browser.close().catch(() => {}))
)

/** A fresh context (cookies, cached credentials) on `browser`; `httpCredentials` answer Basic challenges. */
export const newContext = (browser: Browser, options: BrowserContextOptions = {}): Effect.Effect<BrowserContext, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => browser.newContext({ viewport: { width: 1280, height: 900 }, ...options })),
    (context) => Effect.promise(() => context.close().catch(() => {}))
  )
