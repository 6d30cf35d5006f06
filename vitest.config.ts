import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // integration suites bind real ports and spawn processes: two workers fit a 2-core machine
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    pool: "forks"
  }
})
