import { assert, describe, it } from "@effect/vitest"
import { isRefusal, longestPrefix, type ParsedTarget, parseTarget, type PathRefusal, type RequestPath } from "../../src/domain/RequestPath.js"

const accepted = (target: string): RequestPath => {
  const p: ParsedTarget = parseTarget(target)
  if (isRefusal(p)) return assert.fail(`${JSON.stringify(target)} was refused: ${p}`)
  return p
}

const refusedAs = (reason: PathRefusal, targets: ReadonlyArray<string>) => {
  for (const target of targets) assert.strictEqual(parseTarget(target), reason, `${JSON.stringify(target)}`)
}

describe("RequestPath", () => {
  describe("parseTarget accepts", () => {
    it("an origin-form path, split into segments", () => {
      assert.deepStrictEqual(accepted("/api/v1/orders/42"), {
        raw: "/api/v1/orders/42", query: "", segments: ["api", "v1", "orders", "42"], normalized: "/api/v1/orders/42"
      })
    })

    it("the root path", () => {
      assert.deepStrictEqual(accepted("/"), { raw: "/", query: "", segments: [], normalized: "/" })
    })

    it("a query, kept as written without the question mark", () => {
      const p = accepted("/api/v1/orders?status=open&x=%2F..")
      assert.strictEqual(p.raw, "/api/v1/orders")
      assert.strictEqual(p.query, "status=open&x=%2F..")
      assert.strictEqual(p.normalized, "/api/v1/orders")
    })

    it("an empty query", () => {
      const p = accepted("/a?")
      assert.strictEqual(p.query, "")
      assert.strictEqual(p.normalized, "/a")
    })

    it("one trailing slash, ignored in the normalized path but kept in raw", () => {
      const p = accepted("/api/v1/orders/")
      assert.strictEqual(p.raw, "/api/v1/orders/")
      assert.deepStrictEqual(p.segments, ["api", "v1", "orders"])
      assert.strictEqual(p.normalized, "/api/v1/orders")
      assert.strictEqual(accepted("/api/v1/orders/?a=1").normalized, "/api/v1/orders")
    })

    it("the absolute form, reduced to its path and query", () => {
      const p = accepted("http://gateway.example:8000/api/v1/orders?q=1")
      assert.strictEqual(p.raw, "/api/v1/orders")
      assert.strictEqual(p.query, "q=1")
      assert.strictEqual(p.normalized, "/api/v1/orders")
      assert.strictEqual(accepted("HTTPS://h/x").normalized, "/x")
      assert.strictEqual(accepted("http://h").normalized, "/")
      assert.strictEqual(accepted("http://h?a=b").query, "a=b")
    })

    it("percent-encoded characters, decoded in the segments", () => {
      const p = accepted("/api/v1/config/max%20leverage")
      assert.strictEqual(p.raw, "/api/v1/config/max%20leverage")
      assert.deepStrictEqual(p.segments, ["api", "v1", "config", "max leverage"])
      assert.strictEqual(p.normalized, "/api/v1/config/max leverage")
      assert.deepStrictEqual(accepted("/%61pi/caf%C3%A9").segments, ["api", "café"])
    })

    it("dots that are not whole segments", () => {
      assert.deepStrictEqual(accepted("/a/.../b.json/.hidden/..x").segments, ["a", "...", "b.json", ".hidden", "..x"])
    })

    it("an encoded question mark or hash as part of a segment, not as a query or fragment", () => {
      const p = accepted("/api/v1/config/a%3Fb%23c?x=1")
      assert.deepStrictEqual(p.segments, ["api", "v1", "config", "a?b#c"])
      assert.strictEqual(p.normalized, "/api/v1/config/a?b#c")
      assert.strictEqual(p.raw, "/api/v1/config/a%3Fb%23c")
      assert.strictEqual(p.query, "x=1")
    })

    it("a literal percent written as %25, without decoding it twice", () => {
      assert.deepStrictEqual(accepted("/a/%252e%252e").segments, ["a", "%2e%2e"])
    })
  })

  describe("parseTarget refuses", () => {
    it("empty segments as empty-segment", () => {
      refusedAs("empty-segment", ["//", "/a//b", "//a", "/a/b//", "///"])
    })

    it("dot segments as dot-segment", () => {
      refusedAs("dot-segment", ["/a/../b", "/a/./b", "/..", "/.", "/a/..", "/a/.", "/a/../", "/../api/v1/risk/limits"])
    })

    it("percent-encoded slash, backslash and dot as encoded-separator, in either case", () => {
      refusedAs("encoded-separator", [
        "/a%2fb", "/a%2Fb", "/a%5cb", "/a%5Cb", "/a/%2e%2e/b", "/a/%2E%2E/b", "/a/%2e/b", "/x%2ey", "/api/v1/orders%2F1"
      ])
    })

    it("broken or non-UTF-8 percent-encoding as bad-encoding", () => {
      refusedAs("bad-encoding", ["/a/%E0%A4%A", "/%C3%28", "/%", "/a%zz", "/%ff", "/%C3"])
    })

    it("a raw backslash as forbidden-character", () => {
      refusedAs("forbidden-character", ["/a\\b", "/api\\..\\admin", "/a/b\\"])
    })

    it("control bytes, raw or percent-encoded, as forbidden-character", () => {
      refusedAs("forbidden-character", ["/a%00b", "/a%0a", "/a%0D%0A", "/a%7f", "/a%7F", "/a%1b", "/a\u0000", "/a\nb", "/a\tb", "/a\u007f"])
    })

    it("raw spaces and raw non-ASCII as forbidden-character", () => {
      refusedAs("forbidden-character", ["/a b", "/café", "/a\u00a0", "/\u{1F600}"])
    })

    it("targets that are neither origin-form nor absolute-form as not-origin-form", () => {
      refusedAs("not-origin-form", ["*", "", "api/v1/orders", "ftp://h/x", "?a=b", "\\a"])
    })

    it("a refused path reached through the absolute form", () => {
      assert.strictEqual(parseTarget("http://h/a/../b"), "dot-segment")
      assert.strictEqual(parseTarget("http://h//a"), "empty-segment")
    })
  })

  describe("isRefusal", () => {
    it("tells refusals from accepted paths", () => {
      assert.isTrue(isRefusal(parseTarget("*")))
      assert.isFalse(isRefusal(parseTarget("/a")))
    })
  })

  describe("longestPrefix", () => {
    const prefixes = ["/api/v1/orders"]

    it("matches the prefix itself and paths below it", () => {
      assert.strictEqual(longestPrefix(prefixes, "/api/v1/orders"), "/api/v1/orders")
      assert.strictEqual(longestPrefix(prefixes, "/api/v1/orders/1"), "/api/v1/orders")
    })

    it("matches only on a segment boundary", () => {
      assert.isUndefined(longestPrefix(prefixes, "/api/v1/ordersx"))
      assert.isUndefined(longestPrefix(prefixes, "/api/v1/order"))
      assert.isUndefined(longestPrefix(prefixes, "/api/v2/orders"))
    })

    it("picks the longest matching prefix, in any order", () => {
      const all = ["/api", "/api/v1/orders", "/api/v1"]
      assert.strictEqual(longestPrefix(all, "/api/v1/orders/7"), "/api/v1/orders")
      assert.strictEqual(longestPrefix([...all].reverse(), "/api/v1/orders/7"), "/api/v1/orders")
      assert.strictEqual(longestPrefix(all, "/api/v1/risk"), "/api/v1")
      assert.strictEqual(longestPrefix(all, "/api/x"), "/api")
    })

    it("treats a prefix written with a trailing slash like the same prefix without one", () => {
      assert.strictEqual(longestPrefix(["/api/v1/orders/"], "/api/v1/orders/1"), "/api/v1/orders/")
      assert.strictEqual(longestPrefix(["/api/v1/orders/"], "/api/v1/orders"), "/api/v1/orders/")
      assert.isUndefined(longestPrefix(["/api/v1/orders/"], "/api/v1/ordersx"))
    })

    it("lets / match everything and nothing match an empty list", () => {
      assert.strictEqual(longestPrefix(["/"], "/anything/at/all"), "/")
      assert.isUndefined(longestPrefix([], "/api"))
    })
  })
})
