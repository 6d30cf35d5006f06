import * as Context from "effect/Context"

/** SPEC §5 /version. */
export interface VersionInfo {
  readonly version: string
  readonly build_time: string
  readonly git_commit: string
  readonly service: "api-gateway"
}

export class BuildInfo extends Context.Tag("gateway/BuildInfo")<BuildInfo, VersionInfo>() {}
