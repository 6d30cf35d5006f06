// The SPEC §4 error body, checked the same way in every suite.
import { assert } from "@effect/vitest"

export interface ErrorReplyLike {
  readonly status: number | undefined
  readonly json: Record<string, unknown> | undefined
  /** The X-Request-ID response header. */
  readonly requestId: string | null | undefined
}

/**
 * `status`, a JSON object with `error` equal to `message`, `request_id` equal to the
 * X-Request-ID header, and `details` present exactly when `withDetails` says so
 * (`undefined`: either way); no other keys.
 */
export const assertErrorReply = (reply: ErrorReplyLike, status: number, message: string, withDetails?: boolean): void => {
  assert.strictEqual(reply.status, status, `status (body ${JSON.stringify(reply.json)})`)
  const body = reply.json
  assert.isDefined(body, "the error body is a JSON object")
  if (body === undefined) return
  assert.strictEqual(body.error, message)
  assert.isString(body.request_id)
  assert.strictEqual(body.request_id, reply.requestId, "request_id equals the X-Request-ID header")
  for (const key of Object.keys(body)) assert.include(["error", "request_id", "details"], key, `unexpected key ${key}`)
  if (withDetails === true) assert.isString(body.details, "details when enable_error_details is true")
  if (withDetails === false) assert.notProperty(body, "details", "no details when enable_error_details is false")
}

export const fromFetch = (reply: { status: number; json: Record<string, unknown> | undefined; headers: Headers }): ErrorReplyLike => ({
  status: reply.status,
  json: reply.json,
  requestId: reply.headers.get("x-request-id")
})

export const fromRaw = (reply: { status: number | undefined; json: Record<string, unknown> | undefined; headers: Readonly<Record<string, string>> }): ErrorReplyLike => ({
  status: reply.status,
  json: reply.json,
  requestId: reply.headers["x-request-id"]
})
