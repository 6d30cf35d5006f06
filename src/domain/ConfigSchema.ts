// Building blocks of the config Schema. Every leaf carries a message a person can act
// on, because SPEC §1 wants one line per problem: `key.path: expected …, got …`.
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { parseGoDuration } from "./GoDuration.js"
import { parseRedisUrl } from "./RedisUrl.js"

const show = (u: unknown): string => {
  if (u === undefined) return "nothing"
  const json = JSON.stringify(u)
  return json === undefined ? String(u) : json.length > 60 ? `${json.slice(0, 57)}...` : json
}

export const expected = (what: string) => (issue: ParseResult.ParseIssue) => ({
  message: `expected ${what}, got ${show(issue.actual)}`,
  override: true
})

export const Bool = Schema.Boolean.annotations({ message: expected("true or false") })
export const Str = Schema.String.annotations({ message: expected("a string") })
export const NonEmpty = Schema.String.pipe(Schema.minLength(1)).annotations({ message: expected("a non-empty string") })
export const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive()).annotations({
  message: expected("a positive integer")
})
export const NonNegativeInt = Schema.Number.pipe(Schema.int(), Schema.nonNegative()).annotations({
  message: expected("a non-negative integer")
})
export const PositiveNumber = Schema.Number.pipe(Schema.positive(), Schema.finite()).annotations({
  message: expected("a positive number")
})
export const Ratio = Schema.Number.pipe(Schema.between(0, 1)).annotations({
  message: expected("a number from 0 to 1")
})
export const Port = Schema.Number.pipe(Schema.int(), Schema.between(0, 65535)).annotations({
  message: expected("a port number from 0 to 65535")
})
export const AbsolutePath = Schema.String.pipe(Schema.pattern(/^\/[^\s?#]*$/)).annotations({
  message: expected("a path starting with \"/\"")
})

const httpUrl = (s: string): boolean => {
  try {
    const u = new URL(s)
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== ""
  } catch {
    return false
  }
}

/** An http(s) origin: requests keep their own path (SPEC §3), so a base path would be ignored. */
export const OriginUrl = Schema.String.pipe(
  Schema.filter((s) => httpUrl(s) && (new URL(s).pathname === "/") && new URL(s).search === "")
).annotations({ message: expected("an http(s) URL without a path, such as \"http://localhost:8080\"") })

export const HttpUrl = Schema.String.pipe(Schema.filter(httpUrl)).annotations({
  message: expected("an http(s) URL")
})

export const RedisUrl = Schema.String.pipe(
  Schema.filter((s) => {
    const target = parseRedisUrl(s)
    return typeof target === "string" ? target : true
  })
)

/** Go-style duration (SPEC §1), decoded to milliseconds. */
export const Duration = Schema.transformOrFail(
  Schema.String.annotations({ message: expected("a duration such as \"5s\" or \"1m30s\"") }),
  Schema.Number,
  {
    strict: true,
    decode: (text, _, ast) => {
      const ms = parseGoDuration(text)
      return ms === undefined
        ? ParseResult.fail(new ParseResult.Type(ast, text, `expected a duration such as "5s" or "1m30s", got ${show(text)}`))
        : ParseResult.succeed(ms)
    },
    encode: (ms) => ParseResult.succeed(`${ms}ms`)
  }
)

export const optional = <S extends Schema.Schema.Any>(schema: S, value: Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { exact: true, default: () => value })

export const maybe = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

export const list = <S extends Schema.Schema.Any>(item: S) =>
  Schema.Array(item).annotations({ message: (issue) => ({ ...expected("a list")(issue), override: false }) })

export const literal = <const L extends ReadonlyArray<string>>(...values: L) =>
  Schema.Literal(...values).annotations({ message: expected(`one of ${values.map((v) => `"${v}"`).join(", ")}`) })
