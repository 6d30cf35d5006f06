import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { loadConfigText } from "../../src/domain/ConfigDocument.js"
import { redactUrl } from "../../src/domain/RedactConfig.js"
import { parseRedisUrl } from "../../src/domain/RedisUrl.js"

const problemsWith = (url: string): Array<string> => {
  const result = loadConfigText(`server: {mode: test}\nrate_limit: {store: redis, redis_url: ${JSON.stringify(url)}}\n`, {})
  return Either.isLeft(result) ? result.left : []
}

describe("parseRedisUrl", () => {
  it("leaves redis:// and rediss:// URLs to ioredis, credentials and database included", () => {
    for (const url of ["redis://127.0.0.1:6379/0", "rediss://user:pw@redis.internal:6380/2", "redis://:secret@r"]) {
      assert.deepStrictEqual(parseRedisUrl(url), { _tag: "Single", url })
    }
  })

  it("reads a Cluster's nodes (default port 6379) and the nodes' credentials", () => {
    assert.deepStrictEqual(parseRedisUrl("redis+cluster://a:7000,b:7001,c"), {
      _tag: "Cluster", nodes: [{ host: "a", port: 7000 }, { host: "b", port: 7001 }, { host: "c", port: 6379 }], username: undefined, password: undefined
    })
    assert.deepStrictEqual(parseRedisUrl("redis+cluster://gw:p%40ss@10.0.0.1:7000,[::1]:7001"), {
      _tag: "Cluster", nodes: [{ host: "10.0.0.1", port: 7000 }, { host: "::1", port: 7001 }], username: "gw", password: "p@ss"
    })
  })

  it("reads a Sentinel URL: sentinels (default port 26379), master, database, the data nodes' and the sentinels' credentials", () => {
    assert.deepStrictEqual(parseRedisUrl("redis+sentinel://s1:26379,s2/mymaster"), {
      _tag: "Sentinel", sentinels: [{ host: "s1", port: 26379 }, { host: "s2", port: 26379 }], name: "mymaster", db: 0,
      username: undefined, password: undefined, sentinelUsername: undefined, sentinelPassword: undefined
    })
    assert.deepStrictEqual(parseRedisUrl("redis+sentinel://:data%2Fpw@s1:5000/prod-master/3?sentinel_username=watch&sentinel_password=s%26p"), {
      _tag: "Sentinel", sentinels: [{ host: "s1", port: 5000 }], name: "prod-master", db: 3,
      username: undefined, password: "data/pw", sentinelUsername: "watch", sentinelPassword: "s&p"
    })
    // a lone userinfo is a password, as ioredis reads redis://password@host
    assert.include(parseRedisUrl("redis+sentinel://only@s1/m") as object, { password: "only", username: undefined })
  })

  it("says what is wrong with a URL it cannot read", () => {
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      ["http://r:6379", /expected redis:\/\//],
      ["redis+sentinel://s1:26379", /names its master/],
      ["redis+sentinel://s1:26379/", /names its master/],
      ["redis+sentinel://s1/m/x", /expected \/<master> or \/<master>\/<db>/],
      ["redis+sentinel://s1/m/1/2", /expected \/<master> or \/<master>\/<db>/],
      ["redis+sentinel://s1/m?password=x", /unknown parameter "password"/],
      ["redis+cluster://a:7000/0", /no path or query/],
      ["redis+cluster://a:70000", /the host has a port out of range/],
      ["redis+cluster://a:7000,b:x", /host 2 of 2 is not host or host:port/]
    ]
    for (const [url, message] of cases) {
      const parsed = parseRedisUrl(url)
      assert.isString(parsed, url)
      assert.match(parsed as string, message, url)
    }
  })

  it("never echoes a password, even one with an unencoded @ that splits the URL in the wrong place", () => {
    const parsed = parseRedisUrl("redis+sentinel://user:top@secret@s1:26379/m")
    assert.isString(parsed)
    assert.notInclude(parsed as string, "secret")
    assert.notInclude(parsed as string, "top")
  })
})

describe("redis_url in the config", () => {
  it("refuses a URL the gateway cannot open, naming the key and the problem, without the URL's password", () => {
    const problems = problemsWith("redis+sentinel://user:hunter2@s1:26379")
    const line = problems.find((p) => p.startsWith("rate_limit.redis_url:"))
    assert.isDefined(line, problems.join("\n"))
    assert.include(line!, "names its master")
    assert.notInclude(problems.join("\n"), "hunter2")
  })

  it("accepts every form", () => {
    for (const url of ["redis://r:6379/1", "rediss://r:6380", "redis+cluster://a:7000,b:7001", "redis+sentinel://a,b:26380/mymaster/2?sentinel_password=x"]) {
      assert.deepStrictEqual(problemsWith(url), [], url)
    }
  })

  it("redacts a Sentinel URL's passwords for the admin API and the logs", () => {
    assert.strictEqual(
      redactUrl("redis+sentinel://:pw@a:26379,b/m/1?sentinel_username=w&sentinel_password=sp"),
      "redis+sentinel://[REDACTED]@a:26379,b/m/1?sentinel_username=w&sentinel_password=[REDACTED]"
    )
  })
})
