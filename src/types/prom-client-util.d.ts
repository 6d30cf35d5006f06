// prom-client's internal label hashing (lib/util.js, CommonJS, untyped), used by
// src/services/BoundMetrics.ts; test/http/BoundMetrics.test.ts guards its behaviour.
declare module "prom-client/lib/util.js" {
  export function hashObject(labels: Record<string, string | number>, sortedLabelNames?: ReadonlyArray<string>): string
}
