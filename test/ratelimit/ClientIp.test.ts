// SPEC §4 Client IP: the socket address, unless it is a trusted proxy; then the rightmost
// X-Forwarded-For entry that is not a trusted proxy. Upstream, X-Forwarded-For is the
// trusted chain plus the socket address; an untrusted client's own header is dropped.
import { assert, describe, it } from "@effect/vitest"
import { isIP } from "node:net"
import { makeTrustedProxies, resolveClient } from "../../src/domain/ClientIp.js"

const none = makeTrustedProxies([])
const trusted = makeTrustedProxies(["10.0.0.0/8", "::1/128"])

describe("ClientIp", () => {
  describe("without trusted proxies", () => {
    it("uses the socket address and ignores X-Forwarded-For", () => {
      assert.deepStrictEqual(resolveClient("203.0.113.5", "198.51.100.7", none), { clientIp: "203.0.113.5", forwardedFor: "203.0.113.5" })
      assert.deepStrictEqual(resolveClient("10.0.0.1", "198.51.100.7, 10.0.0.2", none), { clientIp: "10.0.0.1", forwardedFor: "10.0.0.1" })
      assert.deepStrictEqual(resolveClient("203.0.113.5", undefined, none), { clientIp: "203.0.113.5", forwardedFor: "203.0.113.5" })
    })

    it("reports no proxy as trusted", () => {
      assert.isFalse(none.any)
      assert.isFalse(none.isTrusted("127.0.0.1"))
      assert.isFalse(none.isTrusted("::1"))
    })
  })

  describe("with 10.0.0.0/8 and ::1/128 trusted", () => {
    it("matches the configured ranges, IPv4 and IPv6, and nothing else", () => {
      for (const ip of ["10.0.0.1", "10.255.255.254", "::1"]) assert.isTrue(trusted.isTrusted(ip), ip)
      for (const ip of ["11.0.0.1", "9.255.255.255", "192.168.1.1", "::2", "2001:db8::1", "not-an-ip", ""]) assert.isFalse(trusted.isTrusted(ip), ip)
    })

    it("an untrusted socket's own X-Forwarded-For is ignored and dropped", () => {
      assert.deepStrictEqual(resolveClient("203.0.113.5", "198.51.100.7", trusted), { clientIp: "203.0.113.5", forwardedFor: "203.0.113.5" })
      assert.deepStrictEqual(resolveClient("203.0.113.5", "10.0.0.9", trusted), { clientIp: "203.0.113.5", forwardedFor: "203.0.113.5" })
    })

    it("a trusted socket without X-Forwarded-For is the client", () => {
      assert.deepStrictEqual(resolveClient("10.0.0.1", undefined, trusted), { clientIp: "10.0.0.1", forwardedFor: "10.0.0.1" })
      assert.deepStrictEqual(resolveClient("10.0.0.1", "", trusted), { clientIp: "10.0.0.1", forwardedFor: "10.0.0.1" })
    })

    it("behind a trusted proxy the forwarded address is the client", () => {
      assert.deepStrictEqual(resolveClient("10.0.0.1", "198.51.100.7", trusted), {
        clientIp: "198.51.100.7",
        forwardedFor: "198.51.100.7, 10.0.0.1"
      })
    })

    it("the rightmost entry that is not a trusted proxy wins; spoofed entries to its left are dropped", () => {
      assert.deepStrictEqual(resolveClient("10.0.0.1", "1.1.1.1, 6.6.6.6, 198.51.100.7, 10.0.0.2, 10.0.0.3", trusted), {
        clientIp: "198.51.100.7",
        forwardedFor: "198.51.100.7, 10.0.0.2, 10.0.0.3, 10.0.0.1"
      })
    })

    it("a client cannot choose its bucket by prepending addresses", () => {
      const honest = resolveClient("10.0.0.1", "198.51.100.7", trusted)
      for (const spoof of ["203.0.113.1, 198.51.100.7", "10.9.9.9, 198.51.100.7", "::1, 198.51.100.7"]) {
        assert.strictEqual(resolveClient("10.0.0.1", spoof, trusted).clientIp, honest.clientIp, spoof)
      }
    })

    it("trims whitespace around entries", () => {
      assert.deepStrictEqual(resolveClient("10.0.0.1", "  198.51.100.7 ,10.0.0.2  ", trusted), {
        clientIp: "198.51.100.7",
        forwardedFor: "198.51.100.7, 10.0.0.2, 10.0.0.1"
      })
    })

    it("handles IPv6 sockets and IPv6 entries", () => {
      assert.deepStrictEqual(resolveClient("::1", "2001:db8::42", trusted), { clientIp: "2001:db8::42", forwardedFor: "2001:db8::42, ::1" })
      assert.deepStrictEqual(resolveClient("::1", "2001:db8::5, 198.51.100.7, ::1", trusted), {
        clientIp: "198.51.100.7",
        forwardedFor: "198.51.100.7, ::1, ::1"
      })
      assert.deepStrictEqual(resolveClient("10.0.0.1", "2001:db8::7, 10.1.2.3", trusted), {
        clientIp: "2001:db8::7",
        forwardedFor: "2001:db8::7, 10.1.2.3, 10.0.0.1"
      })
      // an untrusted IPv6 socket is the client whatever it forwards
      assert.deepStrictEqual(resolveClient("2001:db8::9", "198.51.100.7", trusted), { clientIp: "2001:db8::9", forwardedFor: "2001:db8::9" })
    })

    it("an invalid rightmost untrusted entry is never used as the client address", () => {
      for (const forwarded of ["garbage", "198.51.100.7, garbage", "198.51.100.7, 1.2.3.4:5678", "198.51.100.7, [2001:db8::1]", "198.51.100.7,,10.0.0.2", "999.1.1.1"]) {
        const { clientIp, forwardedFor } = resolveClient("10.0.0.1", forwarded, trusted)
        assert.notStrictEqual(isIP(clientIp), 0, `${forwarded} gave ${clientIp}`)
        assert.strictEqual(clientIp, "10.0.0.1", `${forwarded}: no valid address to believe, the socket is the client`)
        assert.isFalse(forwardedFor.includes("198.51.100.7"), `${forwarded}: nothing left of the first untrusted entry goes upstream`)
        assert.isTrue(forwardedFor.endsWith(", 10.0.0.1"), `${forwarded}: the socket address ends the chain`)
      }
    })

    it("an all-trusted chain resolves to its leftmost entry", () => {
      assert.deepStrictEqual(resolveClient("10.0.0.1", "10.0.0.3, 10.0.0.2", trusted), {
        clientIp: "10.0.0.3",
        forwardedFor: "10.0.0.3, 10.0.0.2, 10.0.0.1"
      })
      assert.deepStrictEqual(resolveClient("::1", "::1", trusted), { clientIp: "::1", forwardedFor: "::1, ::1" })
    })
  })

  it("accepts a bare address as a one-host range", () => {
    const one = makeTrustedProxies(["192.168.1.10", "2001:db8::/32"])
    assert.isTrue(one.any)
    assert.isTrue(one.isTrusted("192.168.1.10"))
    assert.isFalse(one.isTrusted("192.168.1.11"))
    assert.isTrue(one.isTrusted("2001:db8:ffff::1"))
    assert.isFalse(one.isTrusted("2001:db9::1"))
    assert.strictEqual(resolveClient("192.168.1.10", "198.51.100.7", one).clientIp, "198.51.100.7")
  })
})
