// The plan's resolver (src/http/Resolve.ts): what a GET target means, worked out once and
// remembered. It must answer exactly what working it out each time answers (the checks' code
// before it, `direct` below), for any method and target (refused ones included), keep at most
// its capacity, and remember neither other methods nor what is too long.
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { baseKey, ruleFor } from "../../src/domain/CacheRules.js"
import { sharedBuckets } from "../../src/domain/RateLimits.js"
import { isRefusal, parseTarget } from "../../src/domain/RequestPath.js"
import { compilePlan } from "../../src/http/Plan.js"
import { makeResolver, rememberedTargetLength } from "../../src/http/Resolve.js"
import { baseDoc, decodeConfig, merge } from "../support/TestConfig.js"

const config = decodeConfig(merge(baseDoc, {
  rate_limit: { enabled: true, endpoints: { "/api/v1/orders": { requests_per_second: 10, burst: 20 } }, exempt_paths: ["/api/v1/account/balance"] },
  cache: { enabled: true, rules: { "/api/v1/market-data": { ttl: "5s", shared: true }, "/api/v1/account": { ttl: "5s" } } }
}))
const plan = compilePlan(config)

/** What the checks worked out for every request before the resolver. */
const direct = (method: string, url: string) => {
  const target = parseTarget(url)
  if (isRefusal(target)) return { target, match: undefined, buckets: undefined, rule: undefined, sharedBase: undefined }
  const rule = ruleFor(plan.cacheRules, method, target.normalized)
  return {
    target,
    match: plan.router.match(method, target.segments),
    buckets: sharedBuckets(plan.limits, target.normalized, target.raw),
    rule,
    sharedBase: rule?.shared === true ? baseKey({ rule, path: target.normalized, query: target.query, identity: "" }) : undefined
  }
}

const targets = [
  "/api/v1/market-data/ticker/BTC-USD", "/api/v1/market-data/ticker/BTC-USD?b=2&a=1", "/api/v1/market-data/ticker/BTC-USD/",
  "/api/v1/orders", "/api/v1/orders/42", "/api/v1/account/balance", "/api/v1/account/positions?x=%20", "/health/liveness", "/",
  "/api/v1/market-data/ticker/%42TC", "/api/v1/market-data/ticker/a%2fb", "/api/v1//orders", "/api/v1/../admin", "*",
  "http://example.com/api/v1/orders?x=1", "/api/v1/market-data/ticker/\u00e9", "/api/v1/market-data/ticker/%ff", "/nope"
]
const methods = ["GET", "POST", "DELETE", "HEAD", "OPTIONS"]

describe("plan resolver", () => {
  it("answers what working the target out each time answers, for listed and arbitrary targets", () => {
    const resolver = makeResolver({ router: plan.router, limits: plan.limits, cacheRules: plan.cacheRules, capacity: 64 })
    for (const method of methods) {
      for (const url of targets) {
        expect(resolver.resolve(method, url), `${method} ${url}`).toEqual(direct(method, url))
        expect(resolver.resolve(method, url), `${method} ${url} again`).toEqual(direct(method, url))
      }
    }
    const segment = fc.oneof(fc.constantFrom("api", "v1", "market-data", "ticker", "orders", "account", "..", ".", "", "%2F", "%41"), fc.string())
    fc.assert(
      fc.property(fc.constantFrom(...methods), fc.array(segment, { maxLength: 6 }), fc.option(fc.string(), { nil: undefined }), (method, segments, query) => {
        const url = `/${segments.join("/")}${query === undefined ? "" : `?${query}`}`
        const first = resolver.resolve(method, url)
        expect(first).toEqual(direct(method, url))
        expect(resolver.resolve(method, url)).toEqual(first)
      }),
      { numRuns: 1_000 }
    )
  })

  it("remembers GET targets only, each until it is dropped: the same answer object meanwhile", () => {
    const resolver = makeResolver({ router: plan.router, limits: plan.limits, cacheRules: plan.cacheRules, capacity: 8 })
    const url = "/api/v1/market-data/ticker/BTC-USD"
    const get = resolver.resolve("GET", url)
    expect(resolver.resolve("GET", `${url}`)).toBe(get)
    expect(get.rule?.prefix).toBe("/api/v1/market-data")
    const head = resolver.resolve("HEAD", url)
    expect(head).not.toBe(get)
    expect(head.rule).toBeUndefined() // only GETs are cached: a HEAD is not answered with the GET's resolution
    // other methods are worked out each time: their count cannot multiply what is kept
    const post = resolver.resolve("POST", "/api/v1/orders")
    expect(resolver.resolve("POST", "/api/v1/orders")).not.toBe(post)
    expect(resolver.resolve("POST", "/api/v1/orders")).toEqual(post)
    // more distinct targets than the capacity: the first is dropped and worked out anew
    for (let i = 0; i < 8; i++) resolver.resolve("GET", `/api/v1/orders/${i}`)
    const again = resolver.resolve("GET", url)
    expect(again).not.toBe(get)
    expect(again).toEqual(get)
  })

  it("does not remember a target longer than the bound", () => {
    const resolver = makeResolver({ router: plan.router, limits: plan.limits, cacheRules: plan.cacheRules, capacity: 8 })
    const long = `/api/v1/market-data/ticker/${"x".repeat(rememberedTargetLength)}`
    const first = resolver.resolve("GET", long)
    expect(first.rule?.prefix).toBe("/api/v1/market-data")
    expect(resolver.resolve("GET", long)).not.toBe(first)
    expect(resolver.resolve("GET", long)).toEqual(first)
    const short = "/api/v1/orders/1"
    expect(resolver.resolve("GET", short)).toBe(resolver.resolve("GET", short))
  })

  it("belongs to its plan: a new snapshot's plan starts with its own rules", () => {
    const other = compilePlan(decodeConfig(merge(baseDoc, { cache: { enabled: true, rules: { "/api/v1/orders": { ttl: "5s" } } } })))
    expect(other.resolver).not.toBe(plan.resolver)
    expect(plan.resolver.resolve("GET", "/api/v1/orders/7").rule).toBeUndefined()
    expect(other.resolver.resolve("GET", "/api/v1/orders/7").rule?.prefix).toBe("/api/v1/orders")
    expect(plan.resolver.resolve("GET", "/api/v1/market-data/ticker/X").rule?.prefix).toBe("/api/v1/market-data")
    expect(other.resolver.resolve("GET", "/api/v1/market-data/ticker/X").rule).toBeUndefined()
  })
})
