import type { Queryable } from "../pool.js";

export interface TemplateRow {
  id: string;
  name: string;
  display_name: string;
  description: string;
  icon: string;
  active_version_id: string | null;
  created_by: string | null;
  created_by_username: string | null;
  created_at: Date;
  updated_at: Date;
  workspace_count: number;
}

const SELECT = `SELECT t.id, t.name, t.display_name, t.description, t.icon, t.active_version_id, t.created_by, u.username AS created_by_username,
  t.created_at, t.updated_at, (SELECT count(*)::int FROM workspaces w WHERE w.template_id = t.id AND NOT w.deleted) AS workspace_count
  FROM templates t LEFT JOIN users u ON u.id = t.created_by`;

export async function listTemplates(q: Queryable): Promise<TemplateRow[]> {
  const { rows } = await q.query<TemplateRow>(`${SELECT} WHERE NOT t.deleted ORDER BY t.name`);
  return rows;
}

export async function getTemplateByName(q: Queryable, name: string): Promise<TemplateRow | undefined> {
  const { rows } = await q.query<TemplateRow>(`${SELECT} WHERE lower(t.name) = lower($1) AND NOT t.deleted`, [name]);
  return rows[0];
}

export async function getTemplateById(q: Queryable, id: string): Promise<TemplateRow | undefined> {
  const { rows } = await q.query<TemplateRow>(`${SELECT} WHERE t.id = $1 AND NOT t.deleted`, [id]);
  return rows[0];
}

export async function insertTemplate(q: Queryable, t: { name: string; displayName: string; description: string; createdBy: string }): Promise<string> {
  const { rows } = await q.query<{ id: string }>("INSERT INTO templates (name, display_name, description, created_by) VALUES ($1, $2, $3, $4) RETURNING id", [t.name, t.displayName, t.description, t.createdBy]);
  return rows[0]!.id;
}

export async function updateTemplate(q: Queryable, id: string, t: { display_name: string; description: string; icon: string }): Promise<void> {
  await q.query("UPDATE templates SET display_name = $2, description = $3, icon = $4, updated_at = now() WHERE id = $1", [id, t.display_name, t.description, t.icon]);
}

export async function setActiveVersion(q: Queryable, id: string, versionId: string): Promise<void> {
  await q.query("UPDATE templates SET active_version_id = $2, updated_at = now() WHERE id = $1", [id, versionId]);
}

export async function softDeleteTemplate(q: Queryable, id: string): Promise<void> {
  await q.query("UPDATE templates SET deleted = true, updated_at = now() WHERE id = $1", [id]);
}

/** Serialises pushes (in a transaction): version numbers and first-push template creation do not race. */
export async function lockTemplatePushes(q: Queryable): Promise<void> {
  await q.query("SELECT pg_advisory_xact_lock(hashtext('outpost-template-push'))");
}
