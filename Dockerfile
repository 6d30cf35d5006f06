# syntax=docker/dockerfile:1
# Multi-stage build of the API gateway (Node 20). The same steps as CI:
#   npm ci, npm run build (tsc + dist/build-info.json + the dist/gateway.cjs bundle and its
#   dist/gateway.mjs loader), npm prune --omit=dev. dist/ is read-only at run time, so the loader
#   writes no code cache here: every start compiles the bundle (~0.1 s of CPU more).
#   docker build --build-arg GIT_COMMIT="$(git rev-parse HEAD)" -t api-gateway:1.0.0 .
#   docker run --rm -p 8000:8000 api-gateway:1.0.0
# The image serves the repository's config.yaml (debug mode, memory stores); mount
# another file and set CONFIG_PATH for production (deploy/kubernetes/configmap.yaml).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
# no .git in the build context: /version reports this commit (default "unknown")
ARG GIT_COMMIT=unknown
RUN GIT_COMMIT="$GIT_COMMIT" npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# owned by root, read-only for the `node` user that runs them
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config.yaml ./config.yaml
USER node
EXPOSE 8000
# no curl in the slim image: Node's fetch against /health/liveness (SERVER_PORT if set)
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SERVER_PORT || 8000) + '/health/liveness', { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-semi-space-size=8", "dist/gateway.mjs"]
