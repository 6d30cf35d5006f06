import type { IncomingHttpHeaders } from "node:http"
import type { Credentials } from "../services/Auth.js"

const bearer = /^bearer[ \t]+/i

const jwtShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/**
 * Browsers cannot set headers on a WebSocket: its upgrade may carry a `token` query
 * parameter holding a JWT or an API key instead (SPEC §4).
 */
export const withQueryToken = (credentials: Credentials, url: string | undefined): Credentials => {
  if (credentials.bearer !== undefined || credentials.apiKey !== undefined || url === undefined) return credentials
  const q = url.indexOf("?")
  const token = q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get("token")
  if (token === null || token === "") return credentials
  return jwtShape.test(token) ? { bearer: token, apiKey: undefined } : { bearer: undefined, apiKey: token }
}

/** Authorization: Bearer <jwt> and X-API-Key (SPEC §4); another scheme counts as none. */
export const credentialsOf = (headers: IncomingHttpHeaders): Credentials => {
  const authorization = headers.authorization
  const key = headers["x-api-key"]
  const m = authorization === undefined ? null : bearer.exec(authorization)
  return {
    bearer: m === null ? undefined : authorization!.slice(m[0].length).trim(),
    apiKey: typeof key === "string" && key !== "" ? key : undefined
  }
}
