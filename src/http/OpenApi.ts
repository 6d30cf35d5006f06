// GET /openapi.json (SPEC §3): an OpenAPI 3.1 document generated from the route table,
// with the error body's JSON Schema generated from its Effect Schema.
import * as JSONSchema from "effect/JSONSchema"
import * as Schema from "effect/Schema"
import type { GatewayConfig } from "../domain/GatewayConfig.js"
import { apiRoutes } from "../domain/RouteTable.js"

export const ErrorBody = Schema.Struct({
  error: Schema.String.annotations({ description: "What went wrong, one of the SPEC §4 messages" }),
  request_id: Schema.String.annotations({ description: "The X-Request-ID of the request" }),
  details: Schema.optional(Schema.String).annotations({ description: "Only when features.enable_error_details is true" })
}).annotations({ identifier: "Error", title: "Error" })

const errorResponses: Record<string, string> = {
  "400": "Bad request (malformed request, refused path, duplicated credentials)",
  "401": "Authentication required, invalid or expired token, or invalid API key",
  "403": "Insufficient permissions",
  "413": "Request body too large",
  "415": "Unsupported content type",
  "429": "Rate limit exceeded (see Retry-After)",
  "502": "Bad gateway",
  "503": "Service temporarily unavailable (circuit open, see Retry-After)",
  "504": "Gateway timeout"
}

const errorSchema = JSONSchema.fromAST(ErrorBody.ast, { definitions: {}, target: "openApi3.1", topLevelReferenceStrategy: "skip" })

const openApiPath = (template: string) => template.replace(/:([A-Za-z_]+)/g, "{$1}")

const publicOperation = (summary: string) => ({
  summary,
  security: [],
  tags: ["gateway"],
  responses: { "200": { description: summary, content: { "application/json": { schema: { type: "object" } } } } }
})

export const openApiDocument = (config: GatewayConfig, version: string): Record<string, unknown> => {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of apiRoutes) {
    const path = openApiPath(route.template)
    const parameters = [...route.template.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }))
    const hasBody = route.method === "POST" || route.method === "PUT"
    paths[path] ??= {}
    paths[path][route.method.toLowerCase()] = {
      summary: route.summary,
      operationId: `${route.method.toLowerCase()}${route.template.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase())}`,
      description: `Proxied to ${route.service}. Requires role ${route.role} or higher (viewer < operator < admin).`,
      tags: [route.service],
      "x-required-role": route.role,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(hasBody ? { requestBody: { required: false, content: { "application/json": { schema: {} } } } } : {}),
      ...(config.auth.enabled ? { security: [{ bearerAuth: [] }, { apiKeyAuth: [] }] } : { security: [] }),
      responses: {
        "200": { description: "The backend's response, passed through" },
        ...Object.fromEntries(Object.entries(errorResponses).map(([status, description]) => [status, { $ref: `#/components/responses/E${status}`, description }]))
      }
    }
  }
  const health = config.health.path === "/" ? "" : config.health.path
  paths[`${health}/liveness`] = { get: publicOperation("Liveness probe") }
  paths[`${health}/readiness`] = { get: publicOperation("Readiness probe (503 while draining or breakers open)") }
  paths["/version"] = { get: publicOperation("Version and build") }
  if (config.health.enabled) paths[config.health.path] = { get: publicOperation("Health with service checks") }
  if (config.metrics.enabled) {
    paths[config.metrics.path] = {
      get: { summary: "Prometheus metrics", security: [], tags: ["gateway"], responses: { "200": { description: "Prometheus text format", content: { "text/plain": { schema: { type: "string" } } } } } }
    }
  }
  return {
    openapi: "3.1.0",
    info: { title: "Trading system API gateway", version, description: "Every route is proxied with its path and query unchanged." },
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        apiKeyAuth: { type: "apiKey", in: "header", name: "X-API-Key" }
      },
      schemas: { Error: errorSchema },
      responses: Object.fromEntries(Object.entries(errorResponses).map(([status, description]) => [
        `E${status}`,
        { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }
      ]))
    }
  }
}
