import type { Queryable } from "../pool.js";

export interface WorkspaceRow {
  id: string;
  owner_id: string;
  owner_username: string;
  template_id: string;
  template_name: string;
  template_active_version_id: string | null;
  name: string;
  created_at: Date;
  updated_at: Date;
  last_used_at: Date | null;
}

const SELECT = `SELECT w.id, w.owner_id, u.username AS owner_username, w.template_id, t.name AS template_name, t.active_version_id AS template_active_version_id,
  w.name, w.created_at, w.updated_at, w.last_used_at
  FROM workspaces w JOIN users u ON u.id = w.owner_id JOIN templates t ON t.id = w.template_id`;

export async function insertWorkspace(q: Queryable, w: { ownerId: string; templateId: string; name: string; now: Date }): Promise<string> {
  const { rows } = await q.query<{ id: string }>("INSERT INTO workspaces (owner_id, template_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id", [w.ownerId, w.templateId, w.name, w.now]);
  return rows[0]!.id;
}

export async function getWorkspace(q: Queryable, id: string): Promise<WorkspaceRow | undefined> {
  const { rows } = await q.query<WorkspaceRow>(`${SELECT} WHERE w.id = $1 AND NOT w.deleted`, [id]);
  return rows[0];
}

/** Also a deleted workspace: its builds (and their logs) stay readable, and its delete build still runs. */
export async function getWorkspaceIncludingDeleted(q: Queryable, id: string): Promise<WorkspaceRow | undefined> {
  const { rows } = await q.query<WorkspaceRow>(`${SELECT} WHERE w.id = $1`, [id]);
  return rows[0];
}

export async function getWorkspaceByOwnerAndName(q: Queryable, ownerId: string, name: string): Promise<WorkspaceRow | undefined> {
  const { rows } = await q.query<WorkspaceRow>(`${SELECT} WHERE w.owner_id = $1 AND lower(w.name) = lower($2) AND NOT w.deleted`, [ownerId, name]);
  return rows[0];
}

export interface WorkspaceFilter {
  ownerId?: string;
  search?: string;
  templateName?: string;
  limit: number;
  offset: number;
}

export async function listWorkspaces(q: Queryable, f: WorkspaceFilter): Promise<{ rows: WorkspaceRow[]; count: number }> {
  const where = ["NOT w.deleted"];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace("?", `$${args.length}`));
  };
  if (f.ownerId) add("w.owner_id = ?", f.ownerId);
  if (f.search) add("w.name ILIKE ?", `%${f.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (f.templateName) add("lower(t.name) = lower(?)", f.templateName);
  const clause = where.join(" AND ");
  const count = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM workspaces w JOIN templates t ON t.id = w.template_id WHERE ${clause}`, args);
  const { rows } = await q.query<WorkspaceRow>(`${SELECT} WHERE ${clause} ORDER BY u.username, w.name LIMIT $${args.length + 1} OFFSET $${args.length + 2}`, [...args, f.limit, f.offset]);
  return { rows, count: count.rows[0]!.n };
}

export async function softDeleteWorkspace(q: Queryable, id: string, now: Date): Promise<void> {
  await q.query("UPDATE workspaces SET deleted = true, updated_at = $2 WHERE id = $1", [id, now]);
}

export async function touchWorkspace(q: Queryable, id: string, now: Date): Promise<void> {
  await q.query("UPDATE workspaces SET updated_at = $2 WHERE id = $1", [id, now]);
}

/** Records use of the workspace (connections through its agent); never moves the time backwards. */
export async function touchWorkspaceUsed(q: Queryable, id: string, now: Date): Promise<void> {
  await q.query("UPDATE workspaces SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)", [id, now]);
}

/** Serialises build creation per workspace (two concurrent starts: one wins, the other sees a build in progress). */
export async function lockWorkspace(q: Queryable, id: string): Promise<void> {
  await q.query("SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE", [id]);
}

export async function listTemplateWorkspaces(q: Queryable, templateId: string): Promise<WorkspaceRow[]> {
  const { rows } = await q.query<WorkspaceRow>(`${SELECT} WHERE w.template_id = $1 AND NOT w.deleted ORDER BY u.username, w.name`, [templateId]);
  return rows;
}
