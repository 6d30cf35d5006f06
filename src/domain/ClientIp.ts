// SPEC §4 Client IP: the socket address, unless that address is a trusted proxy; then the
// rightmost X-Forwarded-For entry that is not a trusted proxy. Otherwise any client could
// pick its own per-IP bucket.
import { BlockList, isIP } from "node:net"

export interface TrustedProxies {
  readonly any: boolean
  readonly isTrusted: (ip: string) => boolean
}

export const makeTrustedProxies = (cidrs: ReadonlyArray<string>): TrustedProxies => {
  const list = new BlockList()
  for (const cidr of cidrs) {
    const [address = "", bits] = cidr.split("/")
    const family = isIP(address) === 6 ? "ipv6" : "ipv4"
    if (bits === undefined) list.addAddress(address, family)
    else list.addSubnet(address, Number(bits), family)
  }
  return {
    any: cidrs.length > 0,
    isTrusted: (ip) => {
      const family = isIP(ip)
      return family !== 0 && list.check(ip, family === 6 ? "ipv6" : "ipv4")
    }
  }
}

export interface ClientAddress {
  readonly clientIp: string
  /** What goes upstream as X-Forwarded-For: the trusted chain plus the socket address. */
  readonly forwardedFor: string
}

export const resolveClient = (socketIp: string, forwarded: string | undefined, trusted: TrustedProxies): ClientAddress => {
  if (!trusted.any || forwarded === undefined || forwarded === "" || !trusted.isTrusted(socketIp)) {
    return { clientIp: socketIp, forwardedFor: socketIp } // an untrusted client's own X-Forwarded-For is dropped
  }
  const hops = forwarded.split(",").map((h) => h.trim())
  let i = hops.length - 1
  while (i > 0 && trusted.isTrusted(hops[i]!)) i-- // all trusted: the leftmost is the best we know
  const candidate = hops[i]!
  return {
    clientIp: isIP(candidate) === 0 ? socketIp : candidate,
    forwardedFor: [...hops.slice(i), socketIp].join(", ")
  }
}
