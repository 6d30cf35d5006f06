// Buckets in Redis (SPEC §4): atomic Lua scripts that read Redis's own clock, so instances
// with skewed clocks agree. On one Redis (or Sentinel) a single script takes from all of a
// request's buckets in order and stops at a refusal; on Redis Cluster, where each bucket's key
// is its own hash tag (one slot per script), one script per bucket, and a refusal gives the
// later buckets' tokens back. Either way one round trip per request (ioredis auto-pipelining:
// one write per event-loop turn). Whenever Redis fails or stalls, the instance uses its local
// buckets, says so once, and returns to Redis when it answers.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { RateLimited } from "../domain/Errors.js"
import { callback, isSettled } from "../http/Eager.js"
import { type BucketRef, compileRateLimits, type RateLimits } from "../domain/RateLimits.js"
import { msUntilToken, tokensAt } from "../domain/TokenBucket.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Metrics } from "../services/Metrics.js"
import { type Quota, RateLimiter } from "../services/RateLimiter.js"
import { type RedisClient, RedisClients } from "../services/RedisClients.js"
import { LocalBuckets } from "./LocalBuckets.js"
import { commandTimeoutMs } from "./RedisLive.js"

// KEYS: a request's buckets in order; ARGV: cost (1 takes, -1 gives back), then rate per ms,
// burst and ttl ms of each. Bucket after bucket, refilled to Redis's clock; the first refusal
// ends it, so the later buckets are not touched. Returns allowed and tokens of each bucket it
// reached. On Redis Cluster it is called with one key at a time (one slot per script).
export const tokenBucketsScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local rate = tonumber(ARGV[i * 3 - 1])
  local burst = tonumber(ARGV[i * 3])
  local at = now
  local b = redis.call('HMGET', KEYS[i], 't', 'ts')
  local tokens = tonumber(b[1])
  local ts = tonumber(b[2])
  if tokens == nil then tokens = burst; ts = at end
  if at > ts then tokens = math.min(burst, tokens + (at - ts) * rate) else at = ts end
  local allowed = 0
  if cost < 0 then
    tokens = math.min(burst, tokens - cost); allowed = 1
  elseif tokens >= cost then
    tokens = tokens - cost; allowed = 1
  end
  redis.call('HSET', KEYS[i], 't', tostring(tokens), 'ts', tostring(at))
  redis.call('PEXPIRE', KEYS[i], ARGV[i * 3 + 1])
  out[#out + 1] = allowed
  out[#out + 1] = tostring(tokens)
  if allowed == 0 then return out end
end
return out
`

type Scripted = RedisClient & {
  gwTakeTokens: (...keyCountKeysAndArgs: Array<string | number>) => Promise<Array<number | string>>
  gwTakeToken: (key: string, cost: number, rate: number, burst: number, ttl: number) => Promise<Array<number | string>>
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
    client.defineCommand("gwTakeTokens", { lua: tokenBucketsScript }) // the key count is the first argument
    // the same script with one key declared, which is how ioredis routes it to the key's slot on a Cluster
    client.defineCommand("gwTakeToken", { numberOfKeys: 1, lua: tokenBucketsScript })
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

    /** [allowed, tokens] of each bucket the script reached, from its flat reply. */
    const pairs = (flat: Array<number | string>): Array<[number, string]> => {
      const replies: Array<[number, string]> = []
      for (let i = 0; i + 1 < flat.length; i += 2) replies.push([Number(flat[i]), String(flat[i + 1])])
      return replies
    }
    const take = (refs: ReadonlyArray<BucketRef>, cost: 1 | -1): Promise<Array<[number, string]>> => {
      const args: Array<string | number> = [refs.length]
      for (const ref of refs) args.push(keyOf(ref))
      args.push(cost)
      for (const ref of refs) args.push(ref.spec.ratePerMs, ref.spec.burst, ttlOf(ref))
      return client.gwTakeTokens(...args).then(pairs)
    }
    // Redis Cluster: one script per bucket, each key its own hash tag (one slot per script)
    const perBucket = (refs: ReadonlyArray<BucketRef>, cost: 1 | -1): Promise<Array<[number, string]>> =>
      Promise.all(refs.map((ref) =>
        client.gwTakeToken(keyOf(ref), cost, ref.spec.ratePerMs, ref.spec.burst, ttlOf(ref)).then(
          (flat): [Error | null, [number, string] | undefined] => [null, pairs(flat)[0]],
          (error: Error): [Error | null, [number, string] | undefined] => [error, undefined]
        )
      )).then((replies) => {
        const failed = replies.find(([error]) => error !== null)
        if (failed !== undefined) throw failed[0]
        return replies.map(([, reply]) => reply!)
      })
    const clustered = client.isCluster

    // auto-pipelining sends these scripts, and those of every other request of the same
    // event-loop turn, in one write; no timer of our own: ioredis fails each command after
    // commandTimeoutMs (RedisLive)
    const run = (refs: ReadonlyArray<BucketRef>, cost: 1 | -1) =>
      Effect.tryPromise({
        try: () => (clustered ? perBucket(refs, cost) : take(refs, cost)),
        catch: (cause) => new StoreUnavailable(cause)
      })

    /** Redis failed or stalled: count it, say so once, answer from the local buckets. A settled answer stays an Exit. */
    const recover = (refs: ReadonlyArray<BucketRef>, step: Effect.Effect<Quota, RateLimited | StoreUnavailable>): Effect.Effect<Quota, RateLimited> => {
      if (isSettled(step)) {
        if (Exit.isSuccess(step)) return Exit.succeed(step.value)
        const error = Cause.failureOption(step.cause)
        if (Option.isSome(error) && error.value._tag === "RateLimited") return Exit.fail(error.value)
      }
      return Effect.catchTag(step, "StoreUnavailable", (e) => Effect.zipRight(enterFallback(e.cause), Effect.suspend(() => locally(refs))))
    }

    /** replies: allowed and tokens of each bucket Redis reached, in order (all of them but after a refusal by one script). */
    const decide = (refs: ReadonlyArray<BucketRef>, replies: ReadonlyArray<[number, string]>): Effect.Effect<Quota, RateLimited | StoreUnavailable> => {
      let best: Quota | undefined
      for (let i = 0; i < replies.length; i++) {
        const ref = refs[i]!
        const [allowed, text] = replies[i]!
        const tokens = Number(text)
        if (allowed !== 1) {
          const refused = new RateLimited({ scope: ref.spec.scope, retryAfterMs: msUntilToken(tokens, ref.spec) }, true)
          local.rejections.record(refs)
          const took = refs.slice(i + 1, replies.length)
          // a refusal takes nothing from the later buckets: give back what they took (one
          // script per bucket only; best effort: a Redis failure here leaves them spent)
          return took.length === 0 ? Exit.fail(refused) : Effect.zipRight(Effect.ignore(run(took, -1)), Effect.fail(refused))
        }
        if (best === undefined || tokens < best.remaining) best = { spec: ref.spec, remaining: tokens, msUntilToken: msUntilToken(tokens, ref.spec) }
      }
      return best === undefined || replies.length < refs.length
        ? Effect.fail(new StoreUnavailable(`Redis answered for ${replies.length} of ${refs.length} buckets`))
        : Exit.succeed(best)
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
      // in fallback, settled at the call from the local buckets (an Exit: the checks need no fiber);
      // on one Redis a callback step: the checks go on in the script's reply, with no fiber either
      check: (refs) => {
        if (fallback) return locally(refs)
        if (clustered) return recover(refs, Effect.flatMap(run(refs, 1), (replies) => decide(refs, replies)))
        return callback((resume) =>
          void take(refs, 1).then(
            (replies) => {
              try {
                resume(recover(refs, decide(refs, replies)))
              } catch (defect) {
                resume(Exit.die(defect))
              }
            },
            (cause: unknown) => resume(recover(refs, Exit.fail(new StoreUnavailable(cause))))
          ))
      }
    })
  })
)
