import type { Queryable } from "../pool.js";

export interface TemplateVersionRow {
  id: string;
  template_id: string;
  template_name: string;
  name: string;
  message: string;
  file_hash: string;
  job_id: string;
  parameters: { name: string; spec: Record<string, unknown> }[];
  resources: Record<string, unknown>[];
  activate_on_import: boolean;
  archived: boolean;
  provisioner_tags: Record<string, string>;
  created_by: string | null;
  created_by_username: string | null;
  created_at: Date;
}

const SELECT = `SELECT v.id, v.template_id, t.name AS template_name, v.name, v.message, v.file_hash, v.job_id, v.parameters, v.resources,
  v.activate_on_import, v.archived, v.provisioner_tags, v.created_by, u.username AS created_by_username, v.created_at
  FROM template_versions v JOIN templates t ON t.id = v.template_id LEFT JOIN users u ON u.id = v.created_by`;

export async function insertTemplateVersion(
  q: Queryable,
  v: { templateId: string; name: string; message: string; fileHash: string; jobId: string; activate: boolean; createdBy: string; tags: Record<string, string> },
): Promise<string> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO template_versions (template_id, name, message, file_hash, job_id, activate_on_import, created_by, provisioner_tags)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [v.templateId, v.name, v.message, v.fileHash, v.jobId, v.activate, v.createdBy, JSON.stringify(v.tags)],
  );
  return rows[0]!.id;
}

export async function countTemplateVersions(q: Queryable, templateId: string): Promise<number> {
  const { rows } = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM template_versions WHERE template_id = $1", [templateId]);
  return rows[0]!.n;
}

export async function getTemplateVersion(q: Queryable, id: string): Promise<TemplateVersionRow | undefined> {
  const { rows } = await q.query<TemplateVersionRow>(`${SELECT} WHERE v.id = $1`, [id]);
  return rows[0];
}

export async function getTemplateVersionByName(q: Queryable, templateId: string, name: string): Promise<TemplateVersionRow | undefined> {
  const { rows } = await q.query<TemplateVersionRow>(`${SELECT} WHERE v.template_id = $1 AND lower(v.name) = lower($2)`, [templateId, name]);
  return rows[0];
}

export async function getTemplateVersionByJob(q: Queryable, jobId: string): Promise<TemplateVersionRow | undefined> {
  const { rows } = await q.query<TemplateVersionRow>(`${SELECT} WHERE v.job_id = $1`, [jobId]);
  return rows[0];
}

export async function listTemplateVersions(q: Queryable, templateId: string, includeArchived: boolean): Promise<TemplateVersionRow[]> {
  const { rows } = await q.query<TemplateVersionRow>(`${SELECT} WHERE v.template_id = $1 AND ($2 OR NOT v.archived) ORDER BY v.created_at DESC, v.id`, [templateId, includeArchived]);
  return rows;
}

export async function setVersionImportResult(q: Queryable, id: string, parameters: unknown[], resources: unknown[]): Promise<void> {
  await q.query("UPDATE template_versions SET parameters = $2, resources = $3 WHERE id = $1", [id, JSON.stringify(parameters), JSON.stringify(resources)]);
}

export async function setVersionArchived(q: Queryable, id: string, archived: boolean): Promise<void> {
  await q.query("UPDATE template_versions SET archived = $2 WHERE id = $1", [id, archived]);
}
