// Issue 10 (Redis-backed limits and cache): on one Redis, the commands of one event-loop turn,
// from every request of it, leave in one write (RedisLive's TurnBatchedRedis), and a turn's
// commands are written without waiting for the replies of an earlier turn's (ioredis's
// auto-pipelining kept one batch in flight and held the next one back until the replies came).
// Seen from a TCP relay on loopback between the client and the real Redis on 127.0.0.1:6379,
// logical database 7: the relay counts the writes it receives and can hold Redis's replies.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { Redis } from "ioredis"
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net"
import { loadIoredis, openClient } from "../../src/layers/RedisLive.js"

interface Relay {
  readonly port: number
  /** Chunks the relay received from the client (one per write that reached it). */
  readonly chunks: Array<Buffer>
  /** While true, Redis's replies are kept back; set false to let them (and later ones) through. */
  hold: (on: boolean) => void
  readonly close: () => Promise<void>
}

const startRelay = (): Promise<Relay> =>
  new Promise((resolve) => {
    const chunks: Array<Buffer> = []
    const sockets = new Set<Socket>()
    let held: Array<() => void> | undefined
    const server: Server = createServer((client) => {
      const redis = connect(6379, "127.0.0.1")
      sockets.add(client).add(redis)
      client.on("data", (chunk) => {
        chunks.push(chunk)
        redis.write(chunk)
      })
      redis.on("data", (chunk) => (held === undefined ? client.write(chunk) : held.push(() => client.write(chunk))))
      const close = () => {
        client.destroy()
        redis.destroy()
      }
      client.on("close", close).on("error", close)
      redis.on("close", close).on("error", close)
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        chunks,
        hold: (on) => {
          if (on) held ??= []
          else {
            const release = held ?? []
            held = undefined
            for (const write of release) write()
          }
        },
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    )
  })

/** Waits, within a bound, until `condition` holds; fails with `what` otherwise. */
const until = async (condition: () => boolean, what: string, ms = 3_000) => {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** How many `name` commands (RESP, any case) each of the relay's chunks holds. */
const commandsIn = (chunks: ReadonlyArray<Buffer>, name: string) =>
  chunks.map((c) => c.toString("latin1").toLowerCase().split(`\r\n${name.toLowerCase()}\r\n`).length - 1)

describe("Redis commands batched per event-loop turn", () => {
  let relay: Relay
  let client: Redis
  const key = `gw:test:turns:${process.pid}`

  beforeAll(async () => {
    relay = await startRelay()
    await loadIoredis()
    client = openClient(`redis://127.0.0.1:${relay.port}/7`) as Redis
    client.on("error", () => {})
    await until(() => client.status === "ready", "the client to be ready")
    await client.del(key)
  })
  afterAll(async () => {
    await client.del(key).catch(() => {})
    client.disconnect()
    await relay.close()
  })

  it("fifty commands of one turn reach Redis in one write, in order", async () => {
    const before = relay.chunks.length
    const replies = Array.from({ length: 50 }, () => client.incr(key))
    assert.deepStrictEqual(await Promise.all(replies), Array.from({ length: 50 }, (_, i) => i + 1))
    const writes = relay.chunks.slice(before)
    assert.deepStrictEqual(commandsIn(writes, "INCR"), [50], "one write holding all fifty INCRs")
  })

  it("commands of separate turns are separate writes", async () => {
    const before = relay.chunks.length
    const first = client.incr(key)
    await new Promise((r) => setImmediate(r))
    const second = client.incr(key)
    await Promise.all([first, second])
    assert.deepStrictEqual(commandsIn(relay.chunks.slice(before), "INCR"), [1, 1])
  })

  it("a turn's commands are written while an earlier turn's replies are still awaited", async () => {
    await client.set(key, "0")
    relay.hold(true)
    const before = relay.chunks.length
    const earlier = Array.from({ length: 5 }, () => client.incr(key))
    await until(() => relay.chunks.length > before, "the first turn's write")
    const later = Array.from({ length: 3 }, () => client.incr(key))
    // with one batch in flight at a time, this write would wait for the replies held back
    await until(() => relay.chunks.length > before + 1, "the second turn's write while the first's replies are held")
    assert.deepStrictEqual(commandsIn(relay.chunks.slice(before), "INCR"), [5, 3])
    relay.hold(false)
    assert.deepStrictEqual(await Promise.all([...earlier, ...later]), [1, 2, 3, 4, 5, 6, 7, 8])
  })

  it("keeps serving after its connection is cut: the next turn's commands go out on the new socket", async () => {
    const cut = client.stream
    cut.destroy()
    await until(() => client.status === "ready" && client.stream !== cut, "the reconnect")
    const before = relay.chunks.length
    const replies = await Promise.all([client.incr(key), client.incr(key)])
    assert.strictEqual(replies[1]! - replies[0]!, 1)
    assert.deepStrictEqual(commandsIn(relay.chunks.slice(before), "INCR"), [2])
  })
})
