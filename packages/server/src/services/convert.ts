import type { ApiKey } from "@outpost/sdk/api-keys";
import type { AuditLog } from "@outpost/sdk/audit";
import type { SiteRole } from "@outpost/sdk/roles";
import type { User } from "@outpost/sdk/users";
import type { ApiKeyRow } from "../db/queries/api-keys.js";
import type { AuditLogRow } from "../db/queries/audit-logs.js";
import type { UserRow } from "../db/queries/users.js";

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    name: row.name,
    status: row.status,
    roles: [...(row.roles as SiteRole[]), "member"],
    login_type: row.login_type,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    last_seen_at: row.last_seen_at?.toISOString() ?? null,
  };
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    user_id: row.user_id,
    name: row.name,
    login_type: row.login_type,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
    lifetime_seconds: row.lifetime_seconds,
  };
}

export function toAuditLog(row: AuditLogRow): AuditLog {
  return {
    id: row.id,
    time: row.time.toISOString(),
    user: row.user_id && row.username ? { id: row.user_id, username: row.username } : null,
    action: row.action as AuditLog["action"],
    resource_type: row.resource_type as AuditLog["resource_type"],
    resource_id: row.resource_id,
    resource_name: row.resource_name,
    diff: row.diff,
    ip: row.ip,
    user_agent: row.user_agent,
    status_code: row.status_code,
  };
}
