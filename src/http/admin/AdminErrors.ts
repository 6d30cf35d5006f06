// The admin API's own failures, next to the SPEC §4 ones it shares with the main listener.
import * as Schema from "effect/Schema"
import type { GatewayError } from "../../domain/Errors.js"
import { type ErrorReply, toErrorReply } from "../ErrorResponse.js"

/** A service or cache rule the config does not name. */
export class UnknownTarget extends Schema.TaggedError<UnknownTarget>()("UnknownTarget", {
  what: Schema.String
}) {}

/** POST /admin/reload read a file the gateway refuses; the running config is kept (SPEC §1). */
export class ReloadRefused extends Schema.TaggedError<ReloadRefused>()("ReloadRefused", {
  problems: Schema.Array(Schema.String)
}) {}

export type AdminError = GatewayError | UnknownTarget | ReloadRefused

export interface AdminReply extends ErrorReply {
  /** Fields the body always carries, whatever features.enable_error_details says. */
  readonly fields?: Readonly<Record<string, unknown>>
}

export const toAdminReply = (error: AdminError): AdminReply => {
  switch (error._tag) {
    case "UnknownTarget":
      return { status: 404, error: "Not found", details: error.what }
    case "ReloadRefused":
      return { status: 422, error: "Config reload refused", fields: { result: "failure", problems: error.problems } }
    default:
      return toErrorReply(error)
  }
}

/** SPEC §4's body: `error`, `request_id`, `details` only when enabled. */
export const adminErrorBody = (reply: AdminReply, requestId: string, withDetails: boolean): string =>
  JSON.stringify({
    error: reply.error,
    request_id: requestId,
    ...(withDetails && reply.details !== undefined ? { details: reply.details } : {}),
    ...reply.fields
  })
