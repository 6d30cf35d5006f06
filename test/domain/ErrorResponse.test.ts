import { assert, describe, it } from "@effect/vitest"
import {
  BadGateway, BadRequest, BodyTooLarge, CircuitOpen, Forbidden, type GatewayError, GatewayTimeout, HeadersTooLarge,
  InvalidApiKey, InvalidToken, MethodNotAllowed, MissingCredentials, NotFound, Overloaded, RateLimited, RequestTimeout,
  UnsupportedMediaType, UpgradeRequired
} from "../../src/domain/Errors.js"
import { type ErrorReply, errorBody, internalErrorReply, toErrorReply } from "../../src/http/ErrorResponse.js"

/** A header of the reply, whatever the case of its name. */
const header = (reply: ErrorReply, name: string): string | undefined =>
  Object.entries(reply.headers ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1]

// SPEC §4's table, one error of each class.
const table: ReadonlyArray<readonly [GatewayError, number, string]> = [
  [new BadRequest({ reason: "dot-segment" }), 400, "Bad request"],
  [new MissingCredentials(), 401, "Authentication required"],
  [new InvalidToken({ reason: "expired", detail: "exp in the past" }), 401, "Invalid or expired token"],
  [new InvalidToken({ reason: "bad_signature", detail: "signature" }), 401, "Invalid or expired token"],
  [new InvalidToken({ reason: "bad_claims", detail: "role" }), 401, "Invalid or expired token"],
  [new InvalidApiKey(), 401, "Invalid API key"],
  [new Forbidden({ needed: "admin" }), 403, "Insufficient permissions"],
  [new NotFound(), 404, "Not found"],
  [new MethodNotAllowed({ allow: "GET, HEAD" }), 405, "Method not allowed"],
  [new RequestTimeout(), 408, "Request timeout"],
  [new BodyTooLarge({ limit: 10 }), 413, "Request body too large"],
  [new UnsupportedMediaType({ contentType: "text/plain" }), 415, "Unsupported content type"],
  [new UpgradeRequired(), 426, "Upgrade required"],
  [new RateLimited({ scope: "global", retryAfterMs: 10 }), 429, "Global rate limit exceeded"],
  [new RateLimited({ scope: "endpoint", retryAfterMs: 10 }), 429, "Endpoint rate limit exceeded"],
  [new RateLimited({ scope: "ip", retryAfterMs: 10 }), 429, "IP rate limit exceeded"],
  [new HeadersTooLarge(), 431, "Request header fields too large"],
  [new BadGateway({ service: "market_data", kind: "connection_refused", detail: "ECONNREFUSED" }), 502, "Bad gateway"],
  [new CircuitOpen({ service: "market_data", retryAfterMs: 1000 }), 503, "Service temporarily unavailable"],
  [new Overloaded({ what: "websocket connections", retryAfterMs: 1000 }), 503, "Service temporarily unavailable"],
  [new GatewayTimeout({ service: "market_data", detail: "5s" }), 504, "Gateway timeout"]
]

describe("ErrorResponse", () => {
  describe("toErrorReply", () => {
    it("maps every error class to the status and text of SPEC §4", () => {
      for (const [error, status, text] of table) {
        const reply = toErrorReply(error)
        assert.strictEqual(reply.status, status, error._tag)
        assert.strictEqual(reply.error, text, error._tag)
      }
    })

    it("covers every error class of Errors.ts", () => {
      const tags = new Set(table.map(([e]) => e._tag))
      assert.strictEqual(tags.size, 17)
    })

    it("asks for a Bearer token only when credentials are missing", () => {
      assert.strictEqual(header(toErrorReply(new MissingCredentials()), "WWW-Authenticate"), "Bearer")
    })

    it("names the allowed methods on 405", () => {
      assert.strictEqual(header(toErrorReply(new MethodNotAllowed({ allow: "GET, HEAD, POST" })), "Allow"), "GET, HEAD, POST")
    })

    it("gives Retry-After in whole seconds, rounded up, on 429", () => {
      const after = (ms: number) => header(toErrorReply(new RateLimited({ scope: "ip", retryAfterMs: ms })), "Retry-After")
      assert.strictEqual(after(1_000), "1")
      assert.strictEqual(after(1_001), "2")
      assert.strictEqual(after(2_500), "3")
      assert.strictEqual(after(59_000), "59")
    })

    it("gives Retry-After of at least one second", () => {
      const after = (ms: number) => header(toErrorReply(new RateLimited({ scope: "global", retryAfterMs: ms })), "Retry-After")
      assert.strictEqual(after(0), "1")
      assert.strictEqual(after(1), "1")
      assert.strictEqual(after(-5), "1")
      assert.strictEqual(after(0.4), "1")
    })

    it("gives Retry-After on every 503", () => {
      assert.strictEqual(header(toErrorReply(new CircuitOpen({ service: "risk_manager", retryAfterMs: 30_000 })), "Retry-After"), "30")
      assert.strictEqual(header(toErrorReply(new CircuitOpen({ service: "risk_manager", retryAfterMs: 100 })), "Retry-After"), "1")
      assert.strictEqual(header(toErrorReply(new Overloaded({ what: "websocket connections", retryAfterMs: 1_500 })), "Retry-After"), "2")
    })

    it("leaves Retry-After, Allow and WWW-Authenticate off replies that do not need them", () => {
      for (const [error] of table) {
        const reply = toErrorReply(error)
        if (reply.status !== 429 && reply.status !== 503) assert.isUndefined(header(reply, "Retry-After"), error._tag)
        if (reply.status !== 405) assert.isUndefined(header(reply, "Allow"), error._tag)
        if (error._tag !== "MissingCredentials") assert.isUndefined(header(reply, "WWW-Authenticate"), error._tag)
      }
    })

    it("keeps the reason of the failure in details, never in the error text", () => {
      const reply = toErrorReply(new BadRequest({ reason: "dot-segment" }))
      assert.include(reply.details ?? "", "dot-segment")
      assert.include(toErrorReply(new CircuitOpen({ service: "risk_manager", retryAfterMs: 1 })).details ?? "", "risk_manager")
    })
  })

  describe("internalErrorReply", () => {
    it("is a 500 Internal server error", () => {
      assert.strictEqual(internalErrorReply.status, 500)
      assert.strictEqual(internalErrorReply.error, "Internal server error")
    })
  })

  describe("errorBody", () => {
    it("always carries error and request_id", () => {
      const body: unknown = JSON.parse(errorBody(toErrorReply(new NotFound()), "req-1", false))
      assert.deepStrictEqual(body, { error: "Not found", request_id: "req-1" })
      assert.deepStrictEqual(JSON.parse(errorBody(internalErrorReply, "req-2", false)), { error: "Internal server error", request_id: "req-2" })
    })

    it("leaves details out unless they are asked for", () => {
      const reply = toErrorReply(new BadGateway({ service: "market_data", kind: "reset", detail: "socket hang up" }))
      assert.deepStrictEqual(Object.keys(JSON.parse(errorBody(reply, "r", false)) as object).sort(), ["error", "request_id"])
      const withDetails = JSON.parse(errorBody(reply, "r", true)) as Record<string, unknown>
      assert.strictEqual(withDetails.error, "Bad gateway")
      assert.strictEqual(withDetails.request_id, "r")
      assert.isString(withDetails.details)
      assert.include(withDetails.details as string, "market_data")
    })

    it("has no details key when asked but the error has none", () => {
      assert.deepStrictEqual(JSON.parse(errorBody(toErrorReply(new MissingCredentials()), "r", true)), {
        error: "Authentication required", request_id: "r"
      })
    })

    it("escapes a request id as JSON", () => {
      assert.strictEqual((JSON.parse(errorBody(internalErrorReply, "a\"b", false)) as { request_id: string }).request_id, "a\"b")
    })
  })
})
