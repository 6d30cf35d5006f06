// Every failure SPEC §4 names, as data. src/http/ErrorResponse.ts is the one place that
// turns them into responses.
import * as Schema from "effect/Schema"

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  reason: Schema.String
}) {}

export class MissingCredentials extends Schema.TaggedError<MissingCredentials>()("MissingCredentials", {}) {}

export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  reason: Schema.Literal("expired", "bad_signature", "bad_claims"),
  detail: Schema.String
}) {}

export class InvalidApiKey extends Schema.TaggedError<InvalidApiKey>()("InvalidApiKey", {}) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  needed: Schema.String
}) {}

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {}) {}

export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  allow: Schema.String
}) {}

export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", {}) {}

export class BodyTooLarge extends Schema.TaggedError<BodyTooLarge>()("BodyTooLarge", {
  limit: Schema.Number
}) {}

export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", {
  contentType: Schema.String
}) {}

export class UpgradeRequired extends Schema.TaggedError<UpgradeRequired>()("UpgradeRequired", {}) {}

export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  scope: Schema.Literal("global", "endpoint", "ip"),
  retryAfterMs: Schema.Number
}) {}

export class HeadersTooLarge extends Schema.TaggedError<HeadersTooLarge>()("HeadersTooLarge", {}) {}

export class BadGateway extends Schema.TaggedError<BadGateway>()("BadGateway", {
  service: Schema.String,
  kind: Schema.Literal("connection_refused", "reset", "bad_response"),
  detail: Schema.String
}) {}

export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  service: Schema.String,
  retryAfterMs: Schema.Number
}) {}

export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", {
  what: Schema.String,
  retryAfterMs: Schema.Number
}) {}

export class GatewayTimeout extends Schema.TaggedError<GatewayTimeout>()("GatewayTimeout", {
  service: Schema.String,
  detail: Schema.String
}) {}

export type GatewayError =
  | BadRequest
  | MissingCredentials
  | InvalidToken
  | InvalidApiKey
  | Forbidden
  | NotFound
  | MethodNotAllowed
  | RequestTimeout
  | BodyTooLarge
  | UnsupportedMediaType
  | UpgradeRequired
  | RateLimited
  | HeadersTooLarge
  | BadGateway
  | CircuitOpen
  | Overloaded
  | GatewayTimeout
