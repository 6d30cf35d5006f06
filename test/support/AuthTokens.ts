// Credentials for the auth suites: API keys, HS256 tokens signed with jose, hand-made
// unsigned tokens, and asymmetric key pairs with their public JWKs (SPEC §4 Authentication).
import * as Effect from "effect/Effect"
import { base64url, type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose"
import { createHash } from "node:crypto"

export type Role = "viewer" | "operator" | "admin"
export const roles: ReadonlyArray<Role> = ["viewer", "operator", "admin"]

/** 40 characters: long enough for every mode. */
export const jwtSecret = "auth-suite-secret-0123456789abcdefghijklm"
export const secretBytes = (secret: string = jwtSecret): Uint8Array => new TextEncoder().encode(secret)

/** One named key per role, plus an unnamed operator key. */
export const apiKeys = {
  viewer: "viewer-key-7c1f2a9e5b3d4c6a",
  operator: "operator-key-1d2e3f4a5b6c7d8e",
  admin: "admin-key-9f8e7d6c5b4a3f2e",
  unnamed: "unnamed-key-0a1b2c3d4e5f6a7b"
} as const

export const keyNames = { viewer: "viewer-bot", operator: "operator-desk", admin: "admin-console" } as const

export const apiKeyEntries = [
  { key: apiKeys.viewer, role: "viewer", name: keyNames.viewer },
  { key: apiKeys.operator, role: "operator", name: keyNames.operator },
  { key: apiKeys.admin, role: "admin", name: keyNames.admin },
  { key: apiKeys.unnamed, role: "operator" }
]

/** `auth` enabled with the suite's secret and keys; `over` replaces or adds keys. */
export const authSection = (over: Record<string, unknown> = {}) => ({
  enabled: true,
  jwt_secret: jwtSecret,
  api_keys: apiKeyEntries,
  ...over
})

/** The first 12 hex digits of a key's SHA-256: its identity when it has no name. */
export const keyDigest = (key: string): string => createHash("sha256").update(key).digest("hex").slice(0, 12)

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

export interface SignOptions {
  /** Seconds since the epoch; undefined leaves the claim out. Default: now + 1 h. */
  readonly exp?: number | undefined
  readonly nbf?: number
  readonly iat?: number
  readonly alg?: string
  readonly kid?: string
  /** The HMAC secret or private key; default the suite's jwt_secret. */
  readonly key?: Uint8Array | CryptoKey
}

/** A JWT signed with jose; the claims exactly as given, plus iat/exp/nbf per `options`. */
export const signToken = (claims: JWTPayload, options: SignOptions = {}): Effect.Effect<string> =>
  Effect.promise(() => {
    const now = nowSeconds()
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT", ...(options.kid === undefined ? {} : { kid: options.kid }) })
      .setIssuedAt(options.iat ?? now)
    const exp = "exp" in options ? options.exp : now + 3600
    if (exp !== undefined) jwt = jwt.setExpirationTime(exp)
    if (options.nbf !== undefined) jwt = jwt.setNotBefore(options.nbf)
    return jwt.sign(options.key ?? secretBytes())
  })

/** A valid HS256 token for `user` with `role`, under the default claim names. */
export const tokenFor = (user: string, role: Role, options: SignOptions = {}): Effect.Effect<string> =>
  signToken({ user_id: user, role }, options)

/** An unsigned token (`alg: none`, empty signature) carrying otherwise valid claims. */
export const unsignedToken = (claims: JWTPayload): string => {
  const encode = (value: unknown) => base64url.encode(JSON.stringify(value))
  return `${encode({ alg: "none", typ: "JWT" })}.${encode({ iat: nowSeconds(), exp: nowSeconds() + 3600, ...claims })}.`
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
export const apiKey = (key: string): Record<string, string> => ({ "x-api-key": key })

/** RS256/ES256 are what the gateway accepts from a JWKS; anything else is for refusals. */
export type AsymmetricAlg = "RS256" | "ES256" | "RS384" | "PS256"

export interface SigningKey {
  readonly kid: string
  readonly alg: AsymmetricAlg
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
  /** The public key as a JWKS entry: kid, alg and use set. */
  readonly jwk: JWK
}

export const makeSigningKey = (alg: AsymmetricAlg, kid: string): Effect.Effect<SigningKey> =>
  Effect.promise(async () => {
    const { privateKey, publicKey } = await generateKeyPair(alg)
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" }
    return { kid, alg, privateKey, publicKey, jwk }
  })

/** A token signed with an asymmetric key, its kid in the header. */
export const signWith = (key: SigningKey, claims: JWTPayload, options: SignOptions = {}): Effect.Effect<string> =>
  signToken(claims, { alg: key.alg, kid: key.kid, key: key.privateKey, ...options })
