// The Redis URLs the config accepts (README, Configuration): one server as ioredis reads it,
// Redis Cluster, and Sentinel, the last two with several hosts, which a WHATWG URL cannot hold.
//
//   redis://[user:password@]host:port[/db]          rediss://… (TLS)
//   redis+cluster://[user:password@]h1:p1,h2:p2
//   redis+sentinel://[user:password@]h1:p1,h2:p2/<master>[/db][?sentinel_username=…&sentinel_password=…]
//
// The user and password are the data nodes' (a Sentinel's master and replicas, a Cluster's
// nodes); sentinel_username and sentinel_password are the sentinels' own. Percent-encoding
// carries an "@", "/" or ":" in them.

export interface RedisHost {
  readonly host: string
  readonly port: number
}

export interface RedisCredentials {
  readonly username: string | undefined
  readonly password: string | undefined
}

export type RedisTarget =
  | { readonly _tag: "Single"; readonly url: string }
  | ({ readonly _tag: "Cluster"; readonly nodes: ReadonlyArray<RedisHost> } & RedisCredentials)
  | ({
    readonly _tag: "Sentinel"
    readonly sentinels: ReadonlyArray<RedisHost>
    readonly name: string
    readonly db: number
    readonly sentinelUsername: string | undefined
    readonly sentinelPassword: string | undefined
  } & RedisCredentials)

const multi = /^redis\+(sentinel|cluster):\/\/(?:([^@/?]*)@)?([^/?]+)(?:\/([^?]*))?(?:\?(.*))?$/

const decode = (text: string | undefined): string | undefined => {
  if (text === undefined || text === "") return undefined
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

const credentials = (userinfo: string | undefined): RedisCredentials => {
  if (userinfo === undefined) return { username: undefined, password: undefined }
  const colon = userinfo.indexOf(":")
  return colon === -1
    ? { username: undefined, password: decode(userinfo) } // redis://password@host, as ioredis reads it
    : { username: decode(userinfo.slice(0, colon)), password: decode(userinfo.slice(colon + 1)) }
}

const hosts = (list: string): ReadonlyArray<RedisHost> | string => {
  const out: Array<RedisHost> = []
  const entries = list.split(",")
  for (const [i, entry] of entries.entries()) {
    // the entry is not echoed: with an unencoded "@" in a password it would hold part of it
    const which = entries.length === 1 ? "the host" : `host ${i + 1} of ${entries.length}`
    const m = /^([^:\s@]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?$/.exec(entry)
    if (m === null) return `${which} is not host or host:port (an "@", "/" or ":" in a password is percent-encoded)`
    const port = m[2] === undefined ? undefined : Number(m[2])
    if (port !== undefined && (port < 1 || port > 65_535)) return `${which} has a port out of range`
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ""), port: port ?? 0 })
  }
  return out
}

/** What `url` names, or why it names nothing. */
export const parseRedisUrl = (url: string): RedisTarget | string => {
  if (/^rediss?:\/\/\S+$/.test(url)) return { _tag: "Single", url }
  const m = multi.exec(url)
  if (m === null) return "expected redis://, rediss://, redis+cluster://h1:p1,h2:p2 or redis+sentinel://h1:p1,h2:p2/<master>"
  const [, kind, userinfo, hostList, path = "", query = ""] = m
  const found = hosts(hostList!)
  if (typeof found === "string") return found
  const creds = credentials(userinfo)
  if (kind === "cluster") {
    if (path !== "" || query !== "") return "a Redis Cluster URL has no path or query (a cluster has one database)"
    return { _tag: "Cluster", nodes: found.map((h) => ({ host: h.host, port: h.port || 6379 })), ...creds }
  }
  const [name, db = "0", ...more] = path.split("/")
  if (name === undefined || name === "") return "a Sentinel URL names its master: redis+sentinel://h1:p1,h2:p2/<master>"
  if (more.length > 0 || !/^\d+$/.test(db)) return `"/${path}": expected /<master> or /<master>/<db>`
  const params = new URLSearchParams(query)
  for (const key of params.keys()) {
    if (key !== "sentinel_username" && key !== "sentinel_password") return `unknown parameter "${key}" (sentinel_username, sentinel_password)`
  }
  return {
    _tag: "Sentinel",
    sentinels: found.map((h) => ({ host: h.host, port: h.port || 26379 })),
    name: decode(name)!,
    db: Number(db),
    ...creds,
    sentinelUsername: params.get("sentinel_username") ?? undefined,
    sentinelPassword: params.get("sentinel_password") ?? undefined
  }
}
