// Buckets in Redis (SPEC §4): one atomic Lua script per bucket that reads Redis's own
// clock, so instances with skewed clocks agree; a request's scripts in one round trip
// (ioredis auto-pipelining: one write per event-loop turn); each key its own hash tag for
// Redis Cluster. Whenever Redis fails or stalls, the instance uses its local buckets, says
// so once, and returns to Redis when it answers.
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { RateLimited } from "../domain/Errors.js"
import { type BucketRef, compileRateLimits, type RateLimits } from "../domain/RateLimits.js"
import { msUntilToken, tokensAt } from "../domain/TokenBucket.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Metrics } from "../services/Metrics.js"
import { type Quota, RateLimiter } from "../services/RateLimiter.js"
import { type RedisClient, RedisClients } from "../services/RedisClients.js"
import { LocalBuckets } from "./LocalBuckets.js"
import { commandTimeoutMs } from "./RedisLive.js"

// KEYS[1] bucket; ARGV: rate per ms, burst, cost (1 takes, -1 gives back), ttl ms
export const tokenBucketScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil then tokens = burst; ts = now end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate) else now = ts end
local allowed = 0
if cost < 0 then
  tokens = math.min(burst, tokens - cost); allowed = 1
elseif tokens >= cost then
  tokens = tokens - cost; allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return { allowed, tostring(tokens) }
`

type Scripted = RedisClient & {
  gwTakeToken: (key: string, rate: number, burst: number, cost: number, ttl: number) => Promise<[number, string]>
}

const keyOf = (ref: BucketRef): string =>
  ref.spec.scope === "global" ? "gw:rl:{global}" : ref.spec.scope === "ip" ? `gw:rl:{ip:${ref.key}}` : `gw:rl:{ep:${ref.key}}`

const ttlOf = (ref: BucketRef): number => Math.ceil(ref.spec.burst / ref.spec.ratePerMs) + 1_000

class StoreUnavailable {
  readonly _tag = "StoreUnavailable"
  constructor(readonly cause: unknown) {}
}

export const RateLimiterRedis = Layer.scoped(
  RateLimiter,
  Effect.gen(function* () {
    const gatewayConfig = yield* GatewayConfig
    const { config } = yield* gatewayConfig.current
    const metrics = yield* Metrics
    const clock = yield* Effect.clock
    const url = config.rate_limit.redis_url ?? config.cache.redis_url!
    const client = (yield* (yield* RedisClients).client(url)) as Scripted
    client.defineCommand("gwTakeToken", { numberOfKeys: 1, lua: tokenBucketScript })
    const local = new LocalBuckets(config.rate_limit.per_ip.max_tracked)

    let fallback = false
    const enterFallback = (cause: unknown) =>
      Effect.suspend(() => {
        metrics.redisErrors.inc({ component: "rate_limit" })
        if (fallback) return Effect.void
        fallback = true
        metrics.rateLimitFallbackActive.set(1)
        return Effect.logWarning("Redis unavailable: rate limits use local buckets").pipe(
          Effect.annotateLogs({ error: cause instanceof Error ? cause.message : String(cause) })
        )
      })
    // returns to Redis once it answers again
    yield* Effect.suspend(() =>
      !fallback
        ? Effect.void
        : Effect.tryPromise(() => client.ping()).pipe(
          Effect.flatMap(() => Effect.sync(() => {
            fallback = false
            metrics.rateLimitFallbackActive.set(0)
          })),
          Effect.zipRight(Effect.logInfo("Redis answers again: rate limits use Redis")),
          Effect.orElse(() => Effect.void)
        )
    ).pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.forkScoped)

    const locally = (refs: ReadonlyArray<BucketRef>) => {
      const result = local.check(refs, clock.unsafeCurrentTimeMillis())
      return result instanceof Error ? Exit.fail(result) : Exit.succeed(result)
    }

    const run = (refs: ReadonlyArray<BucketRef>, cost: 1 | -1) =>
      Effect.tryPromise({
        // one EVALSHA per bucket, each key its own hash tag (Redis Cluster: one slot per
        // script); auto-pipelining sends a request's scripts, and those of every other
        // request of the same event-loop turn, in one write
        try: (): Promise<Array<[Error | null, unknown]>> =>
          Promise.all(refs.map((ref) =>
            client.gwTakeToken(keyOf(ref), ref.spec.ratePerMs, ref.spec.burst, cost, ttlOf(ref)).then(
              (reply): [Error | null, unknown] => [null, reply],
              (error: Error): [Error | null, unknown] => [error, null]
            )
          )),
        catch: (cause) => new StoreUnavailable(cause)
      }).pipe(
        // no timer of our own: ioredis fails each command after commandTimeoutMs (RedisLive)
        Effect.flatMap((replies) => {
          const failed = replies.find(([error]) => error !== null)
          return failed !== undefined
            ? Effect.fail(new StoreUnavailable(failed[0]))
            : Effect.succeed(replies.map(([, reply]) => reply as [number, string]))
        })
      )

    const decide = (refs: ReadonlyArray<BucketRef>, replies: ReadonlyArray<[number, string]>): Effect.Effect<Quota, RateLimited | StoreUnavailable> => {
      let best: Quota | undefined
      for (let i = 0; i < refs.length; i++) {
        const ref = refs[i]!
        const [allowed, text] = replies[i]!
        const tokens = Number(text)
        if (allowed !== 1) {
          const refused = new RateLimited({ scope: ref.spec.scope, retryAfterMs: msUntilToken(tokens, ref.spec) }, true)
          local.rejections.record(refs)
          const later = refs.slice(i + 1)
          // a refusal takes nothing from the later buckets: give back what they took
          // (best effort: a Redis failure here only leaves those tokens spent)
          return later.length === 0 ? Effect.fail(refused) : Effect.zipRight(Effect.ignore(run(later, -1)), Effect.fail(refused))
        }
        if (best === undefined || tokens < best.remaining) best = { spec: ref.spec, remaining: tokens, msUntilToken: msUntilToken(tokens, ref.spec) }
      }
      return Effect.succeed(best!)
    }

    // admin view: the buckets as Redis holds them, refilled to Redis's clock as the script would
    const redisTokens = (limits: RateLimits) =>
      Effect.tryPromise({
        try: async () => {
          const [seconds, micros] = (await client.time()).map(Number) as [number, number]
          const now = seconds * 1000 + Math.floor(micros / 1000)
          const read = async (ref: BucketRef) => {
            const [t, ts] = await client.hmget(keyOf(ref), "t", "ts")
            return tokensAt(t == null || ts == null ? undefined : { tokens: Number(t), updatedAt: Number(ts) }, ref.spec, now)
          }
          const endpoints = [...limits.endpoints]
          return {
            globalTokens: await read({ spec: limits.global, key: "" }),
            endpointTokens: await Promise.all(endpoints.map(async ([prefix, spec]) => ({ prefix, tokens: await read({ spec, key: prefix }) })))
          }
        },
        catch: (cause) => new StoreUnavailable(cause)
      }).pipe(Effect.timeoutFail({ duration: commandTimeoutMs * 4, onTimeout: () => new StoreUnavailable("command timeout") }))

    return RateLimiter.of({
      stats: Effect.gen(function* () {
        const limits = compileRateLimits((yield* gatewayConfig.current).config)
        const locally = () => local.snapshot(limits, clock.unsafeCurrentTimeMillis())
        const tokens = fallback ? locally() : yield* Effect.orElseSucceed(redisTokens(limits), locally)
        return { store: "redis" as const, fallback, ...tokens, topRejected: local.rejections.top(20) }
      }),
      check: (refs) =>
        Effect.suspend(() => {
          if (fallback) return locally(refs)
          return run(refs, 1).pipe(
            Effect.flatMap((replies) => decide(refs, replies)),
            Effect.catchTag("StoreUnavailable", (e) => Effect.zipRight(enterFallback(e.cause), locally(refs)))
          )
        })
    })
  })
)
