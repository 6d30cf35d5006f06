// deploy/kubernetes/: the manifests parse and agree with each other and with the gateway
// (probes, ports, shutdown timing, secrets), the ConfigMap's config passes the gateway's
// own loader in release mode, and the compiled gateway serves it as the probes expect.
// `npm test` builds dist/ first; run `npm run build` before running this file alone.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { loadConfigText, referencedVariables } from "../../src/domain/ConfigDocument.js"
import type { GatewayConfig } from "../../src/domain/GatewayConfig.js"
import { readRepoYaml, repoPath } from "../support/DeployTools.js"
import { freePort } from "../support/HttpBackend.js"
import { send } from "../support/HttpClient.js"
import { spawnGateway, startCommand, waitForReady, writeConfig } from "../support/ProcessGateway.js"
import { existsSync } from "node:fs"

type Doc = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are walked by key

const manifest = (name: string): Doc => readRepoYaml("deploy", "kubernetes", name) as Doc
const deployment = () => manifest("deployment.yaml")
const pod = () => deployment().spec.template.spec as Doc
const container = () => pod().containers[0] as Doc
const configText = () => manifest("configmap.yaml").data["config.yaml"] as string
const exampleSecret = () => manifest("secret.example.yaml")

/** Test values for the variables the ConfigMap's config reads (none of them placeholders). */
const testSecrets = {
  JWT_SECRET: "k8s-test-jwt-secret-3f9a1c7e5b2d4f6a8c0e1b3d",
  ADMIN_API_KEY: "k8s-test-admin-0a1b2c3d4e5f",
  OPERATOR_API_KEY: "k8s-test-operator-6a7b8c9d0e1f",
  VIEWER_API_KEY: "k8s-test-viewer-2b3c4d5e6f7a"
}

const load = (env: Record<string, string>): GatewayConfig => {
  const loaded = loadConfigText(configText(), env)
  if (Either.isLeft(loaded)) assert.fail(`the ConfigMap's config is refused:\n${loaded.left.join("\n")}`)
  assert.deepStrictEqual(loaded.right.warnings, [], "no warnings")
  return loaded.right.config
}

/** Seconds of a Go-style duration that the loader decoded to milliseconds. */
const seconds = (ms: number) => ms / 1000

describe("Kubernetes manifests", () => {
  it("parse, one labelled resource per file, and the kustomization applies all but the Secret example", () => {
    const kinds = Object.fromEntries(
      ["configmap.yaml", "deployment.yaml", "service.yaml", "poddisruptionbudget.yaml", "secret.example.yaml"].map((f) => {
        const m = manifest(f)
        assert.strictEqual(m.metadata.labels["app.kubernetes.io/name"], "api-gateway", f)
        return [f, m.kind]
      })
    )
    assert.deepStrictEqual(kinds, {
      "configmap.yaml": "ConfigMap", "deployment.yaml": "Deployment", "service.yaml": "Service",
      "poddisruptionbudget.yaml": "PodDisruptionBudget", "secret.example.yaml": "Secret"
    })
    const resources = manifest("kustomization.yaml").resources as Array<string>
    assert.sameMembers(resources, ["configmap.yaml", "deployment.yaml", "service.yaml", "poddisruptionbudget.yaml"])
    for (const r of resources) assert.isTrue(existsSync(repoPath("deploy", "kubernetes", r)), r)
  })

  it("the Deployment runs two replicas of npm start's command with the seed's probes on the config's port", () => {
    const d = deployment()
    const config = load(testSecrets)
    assert.strictEqual(d.spec.replicas, 2)
    assert.deepStrictEqual(d.spec.selector.matchLabels, { "app.kubernetes.io/name": "api-gateway" })
    assert.deepInclude(d.spec.template.metadata.labels, d.spec.selector.matchLabels)
    const c = container()
    assert.deepStrictEqual(c.command, startCommand(), "the same command and node flags as npm start")
    const http = (c.ports as Array<Doc>).find((p) => p.name === "http")
    assert.strictEqual(http?.containerPort, config.server.port)
    assert.deepInclude(c.livenessProbe, { httpGet: { path: `${config.health.path}/liveness`, port: "http" }, initialDelaySeconds: 10, periodSeconds: 10 })
    assert.deepInclude(c.readinessProbe, { httpGet: { path: `${config.health.path}/readiness`, port: "http" }, initialDelaySeconds: 5, periodSeconds: 5 })
    assert.strictEqual(c.livenessProbe.httpGet.path, "/health/liveness")
    assert.strictEqual(c.readinessProbe.httpGet.path, "/health/readiness")
  })

  it("the config comes from the ConfigMap volume and every variable it needs from the Secret", () => {
    const c = container()
    const env = new Map((c.env as Array<Doc>).map((e) => [e.name as string, e]))
    const mount = (c.volumeMounts as Array<Doc>).find((m) => m.name === "config")!
    const volume = (pod().volumes as Array<Doc>).find((v) => v.name === "config")!
    assert.strictEqual(env.get("CONFIG_PATH")?.value, "/etc/api-gateway/config.yaml")
    assert.strictEqual(mount.mountPath, "/etc/api-gateway")
    assert.isUndefined(mount.subPath, "a subPath mount would never see an edited ConfigMap")
    assert.strictEqual(volume.configMap.name, manifest("configmap.yaml").metadata.name)
    const secret = exampleSecret()
    const required = referencedVariables(configText()).filter((v) => !new RegExp(`\\$\\{${v}:-`).test(configText()))
    assert.sameMembers(required, ["JWT_SECRET", "ADMIN_API_KEY", "OPERATOR_API_KEY", "VIEWER_API_KEY"])
    for (const name of required) {
      const ref = env.get(name)?.valueFrom?.secretKeyRef
      assert.strictEqual(ref?.name, secret.metadata.name, `${name} from the Secret`)
      assert.property(secret.stringData, ref.key, `the Secret example has ${ref.key}`)
      assert.notStrictEqual(ref.optional, true, `${name} is required`)
    }
  })

  it("runs as a non-root user without privileges, with resources and Prometheus annotations that match the config", () => {
    const config = load(testSecrets)
    const p = pod()
    const c = container()
    assert.isTrue(p.securityContext.runAsNonRoot)
    assert.isAbove(p.securityContext.runAsUser, 0)
    assert.deepInclude(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } })
    for (const kind of ["requests", "limits"]) for (const r of ["cpu", "memory"]) assert.isDefined(c.resources[kind][r], `${kind}.${r}`)
    assert.deepStrictEqual(deployment().spec.template.metadata.annotations, {
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(config.server.port),
      "prometheus.io/path": config.metrics.path
    })
  })

  it("gives shutdown its time: the endpoint is gone within shutdown_delay, and the grace period covers delay and timeout", () => {
    const { server } = load(testSecrets)
    const readiness = container().readinessProbe
    const grace = pod().terminationGracePeriodSeconds as number
    assert.isAtLeast(seconds(server.shutdown_delay), readiness.periodSeconds * readiness.failureThreshold)
    assert.isAtLeast(grace, seconds(server.shutdown_delay) + seconds(server.shutdown_timeout) + 5)
    assert.isUndefined(container().lifecycle?.preStop, "no preStop sleep on top of shutdown_delay")
  })

  it("the ConfigMap's config loads with the gateway's loader: release mode, Redis stores, probes and scrapes exempt", () => {
    const config = load(testSecrets)
    assert.strictEqual(config.server.mode, "release")
    assert.strictEqual(config.auth.jwt_secret, testSecrets.JWT_SECRET)
    assert.sameMembers(config.auth.api_keys.map((k) => k.key), [testSecrets.ADMIN_API_KEY, testSecrets.OPERATOR_API_KEY, testSecrets.VIEWER_API_KEY])
    assert.strictEqual(config.rate_limit.store, "redis")
    assert.strictEqual(config.rate_limit.redis_url, "redis://redis:6379/0")
    assert.strictEqual(config.cache.redis_url, "redis://redis:6379/0")
    assert.includeMembers([...config.rate_limit.exempt_paths], ["/health/liveness", "/health/readiness", "/metrics"])
    const withRedis = load({ ...testSecrets, REDIS_URL: "redis://:pw@redis-primary:6379/2" })
    assert.strictEqual(withRedis.rate_limit.redis_url, "redis://:pw@redis-primary:6379/2")
    assert.strictEqual(withRedis.cache.redis_url, "redis://:pw@redis-primary:6379/2")
  })

  it("the Secret example's placeholders are refused in release mode, and a missing secret is named", () => {
    const placeholders = exampleSecret().stringData as Record<string, string>
    for (const value of Object.values(placeholders)) assert.include(value, "REPLACE-ME")
    const refused = loadConfigText(configText(), placeholders)
    assert.isTrue(Either.isLeft(refused))
    const problems = Either.isLeft(refused) ? refused.left : []
    assert.isTrue(problems.some((p) => p.startsWith("auth.jwt_secret")), problems.join("\n"))
    for (const i of [0, 1, 2]) assert.isTrue(problems.some((p) => p.startsWith(`auth.api_keys[${i}].key`)), problems.join("\n"))
    const missing = loadConfigText(configText(), { ...testSecrets, JWT_SECRET: undefined })
    assert.isTrue(Either.isLeft(missing) && missing.left.some((p) => p.includes("JWT_SECRET is not set")))
  })

  it("the Service and the PodDisruptionBudget select the Deployment's pods; the Service targets its http port", () => {
    const podLabels = deployment().spec.template.metadata.labels
    const service = manifest("service.yaml")
    assert.deepInclude(podLabels, service.spec.selector)
    assert.deepInclude(service.spec.ports[0], { name: "http", targetPort: "http" })
    assert.deepInclude(podLabels, manifest("poddisruptionbudget.yaml").spec.selector.matchLabels)
    assert.strictEqual(manifest("poddisruptionbudget.yaml").spec.minAvailable, 1)
  })

  it.scopedLive("the compiled gateway serves the ConfigMap's config: probes and scrapes without credentials, the Secret's keys, readiness 503 on SIGTERM", () =>
    Effect.gen(function* () {
      assert.isTrue(existsSync(repoPath("dist", "gateway.mjs")), "dist/gateway.mjs is missing: run npm run build")
      const port = yield* freePort
      const path = yield* writeConfig(configText())
      // Redis on a closed port: the gateway degrades to local buckets and no cache (SPEC §6)
      const proc = yield* spawnGateway({
        ...testSecrets, CONFIG_PATH: path, SERVER_PORT: String(port), SERVER_HOST: "127.0.0.1",
        REDIS_URL: `redis://127.0.0.1:${yield* freePort}/0`, LOG_LEVEL: "warn"
      })
      const base = `http://127.0.0.1:${port}`
      const c = container()
      yield* waitForReady(proc, `${base}${c.livenessProbe.httpGet.path}`, 30_000)
      assert.strictEqual((yield* send(`${base}${c.readinessProbe.httpGet.path}`)).status, 200)
      const metrics = yield* send(`${base}${deployment().spec.template.metadata.annotations["prometheus.io/path"]}`)
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.text, "api_gateway_http_requests_total")
      assert.strictEqual((yield* send(`${base}/api/v1/orders`)).status, 401)
      // the viewer key authenticates (403: orders need operator), without reaching a backend
      assert.strictEqual((yield* send(`${base}/api/v1/orders`, { headers: { "x-api-key": testSecrets.VIEWER_API_KEY } })).status, 403)
      proc.child.kill("SIGTERM")
      yield* Effect.sleep("300 millis")
      const readiness = yield* send(`${base}${c.readinessProbe.httpGet.path}`)
      assert.strictEqual(readiness.status, 503, `stderr:\n${proc.stderr()}`)
      assert.deepStrictEqual(readiness.json?.reasons, ["shutting down"])
      assert.strictEqual((yield* send(`${base}${c.livenessProbe.httpGet.path}`)).status, 200, "still accepting during shutdown_delay")
    }), 60_000)
})
