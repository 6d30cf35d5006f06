// The Schema of config.yaml: the seed's sections 7, 9, 10 and 13 plus SPEC §2, with
// every default. Keys stay snake_case so error paths read exactly like the file.
import * as Schema from "effect/Schema"
import {
  AbsolutePath, Bool, Duration, expected, HttpUrl, list, literal, maybe, NonEmpty, NonNegativeInt, optional,
  OriginUrl, Port, PositiveInt, PositiveNumber, Ratio, RedisUrl, Str
} from "./ConfigSchema.js"
import { Role } from "./Role.js"
import { ServiceName } from "./ServiceName.js"

// override: false, so the problems of nested keys keep their own messages
const strict = <F extends Schema.Struct.Fields>(fields: F) =>
  Schema.Struct(fields).annotations({ message: (issue) => ({ ...expected("a mapping of keys")(issue), override: false }) })

const Workers = Schema.Union(PositiveInt, Schema.Literal("auto")).annotations({
  message: expected("a positive integer or \"auto\"")
})

export const Server = strict({
  host: optional(Str, "0.0.0.0"),
  port: optional(Port, 8000),
  mode: optional(literal("debug", "release", "test"), "release"),
  read_timeout: optional(Duration, 10_000),
  write_timeout: optional(Duration, 10_000),
  idle_timeout: optional(Duration, 120_000),
  max_header_bytes: optional(PositiveInt, 65_536),
  max_body_bytes: optional(PositiveInt, 10_485_760),
  shutdown_delay: optional(Duration, 0),
  shutdown_timeout: optional(Duration, 10_000),
  trusted_proxies: optional(list(NonEmpty), []),
  workers: optional(Workers, 1)
})

const service = (url: string, timeout: number, maxRetries: number) =>
  optional(
    strict({
      url: optional(OriginUrl, url),
      timeout: optional(Duration, timeout),
      max_retries: optional(NonNegativeInt, maxRetries),
      health_path: optional(AbsolutePath, "/health")
    }),
    { url, timeout, max_retries: maxRetries, health_path: "/health" }
  )

// The seed's section 6 addresses are the defaults, so a file need only name what differs.
export const Services = strict({
  market_data: service("http://localhost:8080", 5_000, 3),
  order_execution: service("http://localhost:8081", 10_000, 2),
  strategy_engine: service("http://localhost:8082", 5_000, 2),
  account_monitor: service("http://localhost:8084", 5_000, 3),
  dashboard_server: service("http://localhost:8086", 5_000, 3),
  risk_manager: service("http://localhost:9095", 5_000, 2),
  configuration: service("http://localhost:8085", 5_000, 3)
})

const ApiKey = strict({ key: NonEmpty, role: Role.annotations({ message: expected("one of \"viewer\", \"operator\", \"admin\"") }), name: maybe(NonEmpty) })

export const Auth = strict({
  enabled: optional(Bool, true),
  jwt_secret: optional(Str, ""),
  jwt_expiry: optional(Duration, 86_400_000),
  refresh_token_expiry: optional(Duration, 604_800_000),
  api_keys: optional(list(ApiKey), []),
  hide_credentials: optional(Bool, false),
  jwks_url: maybe(HttpUrl),
  issuer: maybe(NonEmpty),
  audience: maybe(NonEmpty),
  claims: optional(strict({ user_id: optional(NonEmpty, "user_id"), role: optional(NonEmpty, "role") }), {
    user_id: "user_id",
    role: "role"
  })
})

const Bucket = strict({ requests_per_second: PositiveNumber, burst: PositiveInt })

export const RateLimit = strict({
  enabled: optional(Bool, true),
  store: optional(literal("memory", "redis"), "memory"),
  redis_url: maybe(RedisUrl),
  global: optional(strict({ requests_per_second: optional(PositiveNumber, 1000), burst: optional(PositiveInt, 2000) }), {
    requests_per_second: 1000,
    burst: 2000
  }),
  endpoints: optional(Schema.Record({ key: AbsolutePath, value: Bucket }), {}),
  per_ip: optional(
    strict({
      requests_per_minute: optional(PositiveNumber, 300),
      burst: optional(PositiveInt, 500),
      max_tracked: optional(PositiveInt, 100_000)
    }),
    { requests_per_minute: 300, burst: 500, max_tracked: 100_000 }
  ),
  exempt_paths: optional(list(AbsolutePath), [])
})

export const Cors = strict({
  enabled: optional(Bool, true),
  allowed_origins: optional(list(NonEmpty), []),
  allowed_methods: optional(list(NonEmpty), ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
  allowed_headers: optional(list(NonEmpty), ["Origin", "Content-Type", "Authorization", "X-API-Key", "X-Request-ID", "Idempotency-Key"]),
  allow_credentials: optional(Bool, false),
  max_age: optional(NonNegativeInt, 3600)
})

const BreakerFields = {
  max_requests: PositiveInt,
  interval: Duration,
  timeout: Duration,
  failure_ratio: Ratio,
  min_requests: PositiveInt
}
const BreakerOverride = strict({
  max_requests: maybe(BreakerFields.max_requests),
  interval: maybe(BreakerFields.interval),
  timeout: maybe(BreakerFields.timeout),
  failure_ratio: maybe(BreakerFields.failure_ratio),
  min_requests: maybe(BreakerFields.min_requests)
})

export const CircuitBreaker = strict({
  enabled: optional(Bool, true),
  max_requests: optional(BreakerFields.max_requests, 3),
  interval: optional(BreakerFields.interval, 10_000),
  timeout: optional(BreakerFields.timeout, 60_000),
  failure_ratio: optional(BreakerFields.failure_ratio, 0.6),
  min_requests: optional(BreakerFields.min_requests, 3),
  services: optional(
    strict({
      market_data: maybe(BreakerOverride),
      order_execution: maybe(BreakerOverride),
      strategy_engine: maybe(BreakerOverride),
      account_monitor: maybe(BreakerOverride),
      dashboard_server: maybe(BreakerOverride),
      risk_manager: maybe(BreakerOverride),
      configuration: maybe(BreakerOverride)
    }),
    {}
  )
})

export const Retry = strict({
  initial_interval: optional(Duration, 100),
  max_interval: optional(Duration, 5_000),
  multiplier: optional(PositiveNumber, 2),
  budget_ratio: optional(Ratio, 0.2)
})

export const Cache = strict({
  enabled: optional(Bool, true),
  redis_url: maybe(RedisUrl),
  default_ttl: optional(Duration, 60_000),
  max_entries: optional(PositiveInt, 10_000),
  rules: optional(Schema.Record({ key: AbsolutePath, value: strict({ ttl: maybe(Duration), shared: optional(Bool, false) }) }), {})
})

export const Health = strict({
  enabled: optional(Bool, true),
  path: optional(AbsolutePath, "/health"),
  check_services: optional(Bool, false),
  service_timeout: optional(Duration, 2_000),
  readiness_breakers: optional(literal("any", "all", "ignore"), "all")
})

export const Metrics = strict({ enabled: optional(Bool, true), path: optional(AbsolutePath, "/metrics") })

export const Logging = strict({
  level: optional(literal("debug", "info", "warn", "error"), "info"),
  format: optional(literal("json", "console"), "json"),
  output: optional(literal("stdout", "stderr", "file"), "stdout"),
  file_path: optional(NonEmpty, "/var/log/api-gateway/gateway.log"),
  max_size: optional(PositiveInt, 100),
  max_age: optional(NonNegativeInt, 30),
  max_backups: optional(NonNegativeInt, 10),
  compress: optional(Bool, true)
})

export const Features = strict({
  enable_tracing: optional(Bool, false),
  enable_compression: optional(Bool, false),
  enable_request_id: optional(Bool, true),
  enable_access_log: optional(Bool, true),
  enable_error_details: optional(Bool, false)
})

export const Tls = strict({
  enabled: optional(Bool, false),
  cert_file: maybe(NonEmpty),
  key_file: maybe(NonEmpty),
  min_version: optional(literal("1.2", "1.3"), "1.2")
})

export const Tracing = strict({
  endpoint: maybe(HttpUrl),
  service_name: optional(NonEmpty, "api-gateway"),
  sample_ratio: optional(Ratio, 1)
})

export const WebSocket = strict({
  enabled: optional(Bool, true),
  path: optional(AbsolutePath, "/ws"),
  service: optional(ServiceName.annotations({ message: expected("the name of a service") }), "dashboard_server"),
  backend_path: optional(AbsolutePath, "/ws"),
  max_connections: optional(PositiveInt, 1000),
  max_frame_bytes: optional(PositiveInt, 1_048_576),
  // not in the SPEC: a peer that does not answer a ping within one interval is dropped (0: never)
  ping_interval: optional(Duration, 30_000)
})

export const Admin = strict({
  enabled: optional(Bool, false),
  host: optional(NonEmpty, "127.0.0.1"),
  port: optional(Port, 9000)
})

const section = <A, I>(schema: Schema.Schema<A, I>) =>
  Schema.optionalWith(schema, { exact: true, default: () => Schema.decodeUnknownSync(schema)({}) })

export const GatewayConfig = strict({
  server: section(Server),
  services: section(Services),
  auth: section(Auth),
  rate_limit: section(RateLimit),
  cors: section(Cors),
  circuit_breaker: section(CircuitBreaker),
  retry: section(Retry),
  cache: section(Cache),
  health: section(Health),
  metrics: section(Metrics),
  logging: section(Logging),
  features: section(Features),
  tls: section(Tls),
  tracing: section(Tracing),
  websocket: section(WebSocket),
  admin: section(Admin)
})
export type GatewayConfig = typeof GatewayConfig.Type
