// fastify: fastify + @fastify/http-proxy forwarding everything to BACKEND_URL, logger off,
// the plugin's defaults otherwise (undici via @fastify/reply-from). PERFORMANCE.md's row
// "fastify + @fastify/http-proxy".
import proxy from "@fastify/http-proxy"
import Fastify from "fastify"
import { announce, HOST, PORT } from "./common.mjs"

const backend = process.env.BACKEND_URL
if (!backend) throw new Error("BACKEND_URL is not set")

const app = Fastify({ logger: false, keepAliveTimeout: 65_000 })
await app.register(proxy, { upstream: backend, prefix: "/" })
await app.listen({ host: HOST, port: PORT })
announce(app.server.address().port)
