// `npm run token -- --user alice --role operator --ttl 1h`: prints an HS256 JWT signed
// with the auth.jwt_secret of the same config file the gateway reads (SPEC §4).
import * as Either from "effect/Either"
import { SignJWT } from "jose"
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { loadConfigText } from "./domain/ConfigDocument.js"
import { parseGoDuration } from "./domain/GoDuration.js"
import { isRole } from "./domain/Role.js"

const usage = `Usage: npm run token -- --user <id> --role <viewer|operator|admin> [--ttl <duration>] [--config <file>]

Prints a JWT (HS256) signed with auth.jwt_secret from the config file (CONFIG_PATH, else
config.yaml), with the claim names of auth.claims and auth.issuer / auth.audience when set.
  --user    the user id claim (required)
  --role    viewer, operator or admin (required)
  --ttl     lifetime as a Go duration such as 15m, 1h, 24h (default: auth.jwt_expiry)
  --config  the config file (default: $CONFIG_PATH or config.yaml)
`

const fail = (message: string): never => {
  process.stderr.write(`token: ${message}\n\n${usage}`)
  process.exit(2)
}

const main = async () => {
  let args: ReturnType<typeof parse>
  const parse = () =>
    parseArgs({
      options: { user: { type: "string" }, role: { type: "string" }, ttl: { type: "string" }, config: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true
    })
  try {
    args = parse()
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e))
  }
  const { values } = args
  if (values.help === true) return void process.stdout.write(usage)
  if (values.user === undefined || values.user === "") return fail("--user is required")
  if (!isRole(values.role)) return fail(`--role must be viewer, operator or admin, got ${JSON.stringify(values.role ?? "")}`)
  const path = values.config ?? process.env.CONFIG_PATH ?? "config.yaml"
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (e) {
    return fail(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const loaded = loadConfigText(text, process.env)
  if (Either.isLeft(loaded)) return fail(`${path} is invalid:\n  ${loaded.left.join("\n  ")}`)
  const { auth } = loaded.right.config
  if (auth.jwt_secret === "") return fail(`${path} has no auth.jwt_secret to sign with`)
  const ttlMs = values.ttl === undefined ? auth.jwt_expiry : parseGoDuration(values.ttl)
  if (ttlMs === undefined || ttlMs <= 0) return fail(`--ttl must be a positive duration such as 1h, got ${JSON.stringify(values.ttl)}`)
  const now = Math.floor(Date.now() / 1000)
  let jwt = new SignJWT({ [auth.claims.user_id]: values.user, [auth.claims.role]: values.role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(values.user)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.ceil(ttlMs / 1000))
  if (auth.issuer !== undefined) jwt = jwt.setIssuer(auth.issuer)
  if (auth.audience !== undefined) jwt = jwt.setAudience(auth.audience)
  process.stdout.write(`${await jwt.sign(new TextEncoder().encode(auth.jwt_secret))}\n`)
}

void main()
