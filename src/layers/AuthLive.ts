// jose-backed authentication (SPEC §4). HS256 with jwt_secret, RS256/ES256 from jwks_url,
// each token checked against the allow-list for its key type, so `none` and HS/RS
// confusion are refused. Verified tokens are remembered until they expire, so a known
// token authenticates synchronously on the request path (PERFORMANCE.md).
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from "jose"
import { findKey, hashKeys, type KeyEntry } from "../domain/ApiKeys.js"
import { InvalidApiKey, InvalidToken, MissingCredentials } from "../domain/Errors.js"
import type { GatewayConfig as Config } from "../domain/GatewayConfig.js"
import { LruMap } from "../domain/LruMap.js"
import { tapFailure } from "../http/Eager.js"
import { isRole } from "../domain/Role.js"
import { Auth, type Identity } from "../services/Auth.js"
import { bindCounter } from "../services/BoundMetrics.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { Metrics } from "../services/Metrics.js"

const leewaySeconds = 30
const verifiedCapacity = 10_000
const knownKeysCapacity = 1_000
const asymmetric = ["RS256", "ES256"]

type Reason = "expired" | "bad_signature" | "bad_claims"

interface State {
  readonly keys: ReadonlyArray<KeyEntry>
  readonly secret: Uint8Array | undefined
  readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined
  readonly auth: Config["auth"]
  readonly verified: LruMap<string, { readonly identity: Identity; readonly expiresAt: number }>
  /**
   * Presented API keys that matched, with their identity. The first sight of a key is hashed
   * and compared in constant time against every entry; a key that matched is then found by a
   * map lookup (SHA-256 through OpenSSL costs more per request than the rest of auth). Only
   * matches are kept, so a guess never skips the comparison; a reload starts it afresh.
   */
  readonly knownKeys: LruMap<string, Identity>
}

const makeState = (config: Config): State => ({
  keys: hashKeys(config.auth.api_keys),
  secret: config.auth.jwt_secret === "" ? undefined : new TextEncoder().encode(config.auth.jwt_secret),
  // jose refetches on an unknown kid at most once per cooldown: rotation works, bad tokens cannot hammer the IdP
  jwks: config.auth.jwks_url === undefined
    ? undefined
    : createRemoteJWKSet(new URL(config.auth.jwks_url), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 5_000 }),
  auth: config.auth,
  verified: new LruMap(verifiedCapacity),
  knownKeys: new LruMap(knownKeysCapacity)
})

const reasonOf = (error: unknown): Reason => {
  const code = (error as { code?: string }).code
  if (code === "ERR_JWT_EXPIRED") return "expired"
  if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED") return "bad_claims"
  return "bad_signature"
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export const AuthLive = Layer.scoped(
  Auth,
  Effect.gen(function* () {
    const config = yield* GatewayConfig
    const metrics = yield* Metrics
    const clock = yield* Effect.clock
    let state = makeState((yield* config.current).config)
    yield* config.changes.pipe(Stream.runForEach((s) => Effect.sync(() => (state = makeState(s.config)))), Effect.forkScoped)

    const failure = (type: "jwt" | "api_key" | "none", reason: string) => metrics.authFailures.inc({ type, reason })
    const attempts = {
      jwt: bindCounter(metrics.authAttempts, { type: "jwt" }),
      api_key: bindCounter(metrics.authAttempts, { type: "api_key" }),
      none: bindCounter(metrics.authAttempts, { type: "none" })
    }

    const identityOf = (payload: JWTPayload, s: State): Identity | string => {
      const user = payload[s.auth.claims.user_id] ?? payload.sub
      const role = payload[s.auth.claims.role]
      if ((typeof user !== "string" && typeof user !== "number") || String(user) === "") return `missing ${s.auth.claims.user_id} claim`
      if (!isRole(role)) return `${s.auth.claims.role} claim must be viewer, operator or admin`
      return { type: "jwt", user: String(user), caller: String(user), role }
    }

    const verify = (token: string, s: State): Effect.Effect<Identity, InvalidToken> =>
      Effect.tryPromise({
        try: async () => {
          const alg = decodeProtectedHeader(token).alg
          const now = clock.unsafeCurrentTimeMillis()
          const common = {
            clockTolerance: leewaySeconds,
            currentDate: new Date(now),
            requiredClaims: ["exp"],
            ...(s.auth.issuer === undefined ? {} : { issuer: s.auth.issuer }),
            ...(s.auth.audience === undefined ? {} : { audience: s.auth.audience })
          }
          if (alg === "HS256" && s.secret !== undefined) return (await jwtVerify(token, s.secret, { ...common, algorithms: ["HS256"] })).payload
          if (alg !== undefined && asymmetric.includes(alg) && s.jwks !== undefined) {
            return (await jwtVerify(token, s.jwks, { ...common, algorithms: asymmetric })).payload
          }
          throw Object.assign(new Error(`algorithm ${String(alg)} is not accepted`), { code: "ERR_JOSE_ALG_NOT_ALLOWED" })
        },
        catch: (error) => new InvalidToken({ reason: reasonOf(error), detail: describe(error) })
      }).pipe(
        Effect.flatMap((payload) => {
          const identity = identityOf(payload, s)
          if (typeof identity === "string") return Effect.fail(new InvalidToken({ reason: "bad_claims", detail: identity }))
          const expiresAt = (payload.exp ?? 0) * 1000 + leewaySeconds * 1000
          s.verified.set(token, { identity, expiresAt })
          return Effect.succeed(identity)
        })
      )

    const fromToken = (token: string, s: State): Effect.Effect<Identity, InvalidToken> => {
      const known = s.verified.get(token)
      if (known === undefined) return verify(token, s)
      if (known.expiresAt > clock.unsafeCurrentTimeMillis()) return Exit.succeed(known.identity)
      s.verified.delete(token)
      return Exit.fail(new InvalidToken({ reason: "expired", detail: "token expired" }))
    }

    return Auth.of({
      authenticate: ({ apiKey, bearer }) => {
        const s = state
        if (bearer !== undefined) {
          attempts.jwt.inc()
          return tapFailure(fromToken(bearer, s), (e) => failure("jwt", e.reason))
        }
        if (apiKey !== undefined) {
          attempts.api_key.inc()
          const known = s.knownKeys.get(apiKey)
          if (known !== undefined) return Exit.succeed(known)
          const entry = findKey(s.keys, apiKey)
          if (entry === undefined) {
            failure("api_key", "unknown_key")
            return Exit.fail(new InvalidApiKey())
          }
          const identity: Identity = { type: "api_key", user: entry.user, caller: entry.caller, role: entry.role }
          s.knownKeys.set(apiKey, identity)
          return Exit.succeed(identity)
        }
        attempts.none.inc()
        failure("none", "missing")
        return Exit.fail(new MissingCredentials())
      }
    })
  })
)
