import type { IncomingHttpHeaders } from "node:http"
import type { Credentials } from "../services/Auth.js"

const bearer = /^bearer[ \t]+/i

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
