import * as Schema from "effect/Schema"

// SPEC §3: viewer < operator < admin
export const Role = Schema.Literal("viewer", "operator", "admin")
export type Role = typeof Role.Type

export const roles: ReadonlyArray<Role> = Role.literals

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

export const satisfies = (held: Role, needed: Role): boolean => rank[held] >= rank[needed]

export const isRole = (u: unknown): u is Role => u === "viewer" || u === "operator" || u === "admin"
