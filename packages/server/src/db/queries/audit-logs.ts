import type { Queryable } from "../pool.js";

export interface AuditLogRow {
  id: string;
  time: Date;
  user_id: string | null;
  username: string | null;
  action: string;
  resource_type: string;
  resource_id: string;
  resource_name: string;
  diff: Record<string, { old: unknown; new: unknown; secret: boolean }>;
  ip: string | null;
  user_agent: string | null;
  status_code: number;
}

export type InsertAuditLog = Omit<AuditLogRow, "id" | "username"> & { request_id: string | null };

export async function insertAuditLog(q: Queryable, e: InsertAuditLog): Promise<void> {
  await q.query(
    `INSERT INTO audit_logs (time, user_id, action, resource_type, resource_id, resource_name, diff, ip, user_agent, status_code, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [e.time, e.user_id, e.action, e.resource_type, e.resource_id, e.resource_name, JSON.stringify(e.diff), e.ip, e.user_agent, e.status_code, e.request_id],
  );
}

export interface AuditFilter {
  username?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  status?: "success" | "failure";
  since?: Date;
  until?: Date;
  limit: number;
  offset: number;
}

export async function listAuditLogs(q: Queryable, f: AuditFilter): Promise<{ rows: AuditLogRow[]; count: number }> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    args.push(value);
    where.push(sql.replace("?", `$${args.length}`));
  };
  if (f.username) add("lower(u.username) = lower(?)", f.username);
  if (f.action) add("a.action = ?", f.action);
  if (f.resourceType) add("a.resource_type = ?", f.resourceType);
  if (f.resourceId) add("a.resource_id = ?", f.resourceId);
  if (f.since) add("a.time >= ?", f.since);
  if (f.until) add("a.time < ?", f.until);
  if (f.status === "success") where.push("a.status_code < 400");
  if (f.status === "failure") where.push("a.status_code >= 400");
  const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const from = "FROM audit_logs a LEFT JOIN users u ON u.id = a.user_id";
  const count = await q.query<{ n: number }>(`SELECT count(*)::int AS n ${from} ${clause}`, args);
  const { rows } = await q.query<AuditLogRow>(
    `SELECT a.id, a.time, a.user_id, u.username, a.action, a.resource_type, a.resource_id, a.resource_name, a.diff,
            host(a.ip) AS ip, a.user_agent, a.status_code
     ${from} ${clause} ORDER BY a.time DESC, a.id LIMIT $${args.length + 1} OFFSET $${args.length + 2}`,
    [...args, f.limit, f.offset],
  );
  return { rows, count: count.rows[0]!.n };
}
