import * as Context from "effect/Context"

/** Where the operators' listener is bound (admin.port 0 binds a free one); undefined when admin.enabled is false. */
export class AdminListener extends Context.Tag("gateway/AdminListener")<
  AdminListener,
  { readonly address: { readonly host: string; readonly port: number } | undefined }
>() {}
