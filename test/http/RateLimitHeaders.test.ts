import { describe, expect, it } from "vitest"
import type { BucketSpec } from "../../src/domain/TokenBucket.js"
import { rememberedStates, setRateLimitHeaders } from "../../src/http/RateLimitHeaders.js"
import { ResponseHeaders } from "../../src/http/ResponseHeaders.js"

const spec = (burst: number): BucketSpec => ({ scope: "ip", limit: 60, ratePerMs: 1 / 1000, burst, label: "ip" })

const fieldsFor = (s: BucketSpec, remaining: number, msUntilToken: number) => {
  const headers = new ResponseHeaders()
  setRateLimitHeaders(headers, { spec: s, remaining, msUntilToken })
  return Object.fromEntries(["x-ratelimit-limit", "x-ratelimit-burst", "x-ratelimit-remaining", "ratelimit-policy", "ratelimit"].map((n) => [n, headers.get(n)]))
}

describe("setRateLimitHeaders", () => {
  it("writes the classic and the IETF draft's fields of the bucket with the fewest tokens", () => {
    expect(fieldsFor(spec(20), 7.6, 400)).toEqual({
      "x-ratelimit-limit": "60",
      "x-ratelimit-burst": "20",
      "x-ratelimit-remaining": "7",
      "ratelimit-policy": "\"ip\";q=20;w=20",
      ratelimit: "\"ip\";r=7;t=1"
    })
  })

  it("gives the same RateLimit values when they are remembered, past the bound and for long waits", () => {
    const s = spec(5_000)
    // every state twice: the second time from what was remembered, if it was
    for (let pass = 0; pass < 2; pass++) {
      for (let remaining = 0; remaining < rememberedStates + 200; remaining += 3) {
        const seconds = remaining % 70 // 64 and more are never remembered
        expect(fieldsFor(s, remaining, seconds * 1000).ratelimit).toBe(`"ip";r=${remaining};t=${seconds}`)
      }
    }
    // states that share remaining or seconds are told apart
    expect(fieldsFor(s, 1, 2000).ratelimit).toBe("\"ip\";r=1;t=2")
    expect(fieldsFor(s, 2, 1000).ratelimit).toBe("\"ip\";r=2;t=1")
    expect(fieldsFor(s, 0, 64_000).ratelimit).toBe("\"ip\";r=0;t=64")
    expect(fieldsFor(s, 1, 0).ratelimit).toBe("\"ip\";r=1;t=0")
  })
})
