import { assert, describe, it } from "@effect/vitest"
import { attemptFailure, type FailureKind, idempotentRequest, mayRetry, retryableStatus } from "../../src/domain/Retry.js"

const idempotent = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"] as const
const unsafe = ["POST", "PATCH"] as const

const neverSent = [
  attemptFailure("connection_refused", true, "connection refused"),
  attemptFailure("timeout", true, "connect timeout")
]
const sent = [
  attemptFailure("reset", false, "socket hang up"),
  attemptFailure("timeout", false, "no response within the timeout"),
  attemptFailure("bad_response", false, "HPE_INVALID_CONSTANT"),
  attemptFailure("status", false, "status 502", 502),
  attemptFailure("status", false, "status 503", 503),
  attemptFailure("status", false, "status 504", 504)
]

const label = (kind: FailureKind, neverSentFlag: boolean) => `${kind}${neverSentFlag ? " (never sent)" : ""}`

describe("Retry", () => {
  describe("mayRetry", () => {
    it("retries a request that was never sent, whatever the method", () => {
      for (const f of neverSent) {
        for (const method of [...idempotent, ...unsafe]) {
          assert.isTrue(mayRetry(f, method, false), `${method} after ${label(f.kind, f.neverSent)}`)
        }
      }
    })

    it("retries idempotent methods after a sent failure or a 502/503/504", () => {
      for (const f of sent) {
        for (const method of idempotent) assert.isTrue(mayRetry(f, method, false), `${method} after ${label(f.kind, f.neverSent)}`)
      }
    })

    it("never retries POST or PATCH once sent, without an Idempotency-Key", () => {
      for (const f of sent) {
        for (const method of unsafe) assert.isFalse(mayRetry(f, method, false), `${method} after ${label(f.kind, f.neverSent)}`)
      }
    })

    it("retries POST and PATCH once sent when they carry an Idempotency-Key", () => {
      for (const f of sent) {
        for (const method of unsafe) assert.isTrue(mayRetry(f, method, true), `${method} + key after ${label(f.kind, f.neverSent)}`)
      }
    })

    it("never retries an aborted attempt (client gone, shutdown), even one never sent or idempotent", () => {
      for (const neverSentFlag of [true, false]) {
        const aborted = attemptFailure("aborted", neverSentFlag, "client")
        for (const method of [...idempotent, ...unsafe]) {
          assert.isFalse(mayRetry(aborted, method, false), `${method} aborted`)
          assert.isFalse(mayRetry(aborted, method, true), `${method} aborted with a key`)
        }
      }
    })

    it("treats methods outside the idempotent list like POST", () => {
      for (const method of ["CONNECT", "TRACE", "PROPFIND", "get"]) {
        assert.isFalse(mayRetry(attemptFailure("reset", false, "x"), method, false), method)
        assert.isTrue(mayRetry(attemptFailure("connection_refused", true, "x"), method, false), method)
      }
    })
  })

  describe("idempotentRequest and retryableStatus", () => {
    it("idempotent methods are GET HEAD OPTIONS PUT DELETE, or any method with an Idempotency-Key", () => {
      for (const m of idempotent) assert.isTrue(idempotentRequest(m, false), m)
      for (const m of unsafe) {
        assert.isFalse(idempotentRequest(m, false), m)
        assert.isTrue(idempotentRequest(m, true), `${m} with a key`)
      }
    })

    it("only 502, 503 and 504 are retryable statuses", () => {
      for (let status = 100; status < 600; status++) {
        assert.strictEqual(retryableStatus(status), status === 502 || status === 503 || status === 504, String(status))
      }
    })
  })
})
