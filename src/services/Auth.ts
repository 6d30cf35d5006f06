import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { InvalidApiKey, InvalidToken, MissingCredentials } from "../domain/Errors.js"
import type { Role } from "../domain/Role.js"

/** What a request presented; extracted by the HTTP layer (headers, or `token` for WebSockets). */
export interface Credentials {
  readonly bearer: string | undefined
  readonly apiKey: string | undefined
}

export interface Identity {
  readonly type: "jwt" | "api_key"
  /** X-Auth-User: the JWT's user id, or key:<name> (key:<12 hex of its SHA-256> unnamed). */
  readonly user: string
  /** For logs (`caller`) and cache keys: the user id or the key's name. */
  readonly caller: string
  readonly role: Role
}

export class Auth extends Context.Tag("gateway/Auth")<
  Auth,
  {
    /**
     * Bearer first (an invalid token does not fall through), then X-API-Key (SPEC §4). Decided
     * at the call, an Exit, when it can be (an API key, a token verified before); a token still
     * to verify gives an Effect that verifies it when run.
     */
    readonly authenticate: (credentials: Credentials) => Effect.Effect<Identity, MissingCredentials | InvalidToken | InvalidApiKey>
  }
>() {}
