import { describe, expect, it } from "vitest"
import { AttemptSignal } from "../../src/services/Upstream.js"

const listen = (signal: AttemptSignal, ...listeners: Array<() => void>) => {
  for (const listener of listeners) signal.addEventListener("abort", listener)
}

describe("AttemptSignal", () => {
  it("runs every listener once, in the order added, with the reason set", () => {
    const signal = new AttemptSignal()
    const heard: Array<string> = []
    listen(signal, () => heard.push(`a:${String(signal.reason)}`), () => heard.push("b"))
    signal.abort("timeout")
    signal.abort("client")
    expect(heard).toEqual(["a:timeout", "b"])
    expect(signal.aborted).toBe(true)
  })

  it("does not run a removed listener, and keeps the others and their order", () => {
    const signal = new AttemptSignal()
    const heard: Array<string> = []
    const a = () => heard.push("a")
    const b = () => heard.push("b")
    const c = () => heard.push("c")
    listen(signal, a, b, c)
    signal.removeEventListener("abort", b)
    signal.removeEventListener("abort", () => heard.push("never added"))
    signal.abort("client")
    expect(heard).toEqual(["a", "c"])
  })

  it("runs every listener even when one removes itself or a later one while they run", () => {
    const signal = new AttemptSignal()
    const heard: Array<string> = []
    const second = () => heard.push("second")
    const first = () => {
      heard.push("first")
      signal.removeEventListener("abort", first)
      signal.removeEventListener("abort", second)
    }
    listen(signal, first, second, () => heard.push("third"))
    signal.abort("shutdown")
    expect(heard).toEqual(["first", "second", "third"])
  })
})
