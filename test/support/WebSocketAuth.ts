// Credentials for the WebSocket suites: API keys per role and HS256 tokens signed with jose.
import * as Effect from "effect/Effect"
import { SignJWT } from "jose"

export const wsSecret = "websocket-suite-secret-0123456789abcdefgh"

export const wsKeys = {
  viewer: "ws-viewer-key-5e4d3c2b1a09",
  admin: "ws-admin-key-0a1b2c3d4e5f"
} as const

export const wsAuth = {
  enabled: true,
  jwt_secret: wsSecret,
  api_keys: [
    { key: wsKeys.viewer, role: "viewer", name: "ws-viewer" },
    { key: wsKeys.admin, role: "admin", name: "ws-admin" }
  ]
}

/** An HS256 JWT for `user` with `role`, valid for an hour. */
export const wsToken = (user: string, role: string): Effect.Effect<string> =>
  Effect.promise(() =>
    new SignJWT({ user_id: user, role })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(wsSecret)))
