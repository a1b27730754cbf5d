import type { ResourceStateDto } from "@outpost/sdk/provisioner";
import type { Queryable } from "../pool.js";

export interface BuildRow {
  id: string;
  workspace_id: string;
  workspace_name: string;
  template_version_id: string;
  template_version_name: string;
  build_number: number;
  transition: "start" | "stop" | "delete";
  reason: "initiator" | "autostart" | "autostop" | "idle" | "dormancy" | "failure";
  initiator_id: string | null;
  initiator_username: string | null;
  job_id: string;
  parameters: { name: string; value: unknown }[];
  state: ResourceStateDto[] | null;
  orphan: boolean;
  daily_cost: number;
  created_at: Date;
}

const SELECT = `SELECT b.id, b.workspace_id, w.name AS workspace_name, b.template_version_id, v.name AS template_version_name, b.build_number, b.transition, b.reason,
  b.initiator_id, u.username AS initiator_username, b.job_id, b.parameters, b.state, b.orphan, b.daily_cost, b.created_at
  FROM workspace_builds b JOIN workspaces w ON w.id = b.workspace_id JOIN template_versions v ON v.id = b.template_version_id LEFT JOIN users u ON u.id = b.initiator_id`;

export async function insertBuild(
  q: Queryable,
  b: { workspaceId: string; templateVersionId: string; transition: string; reason: string; initiatorId: string | null; jobId: string; parameters: unknown[]; orphan: boolean; now: Date },
): Promise<string> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO workspace_builds (workspace_id, template_version_id, build_number, transition, reason, initiator_id, job_id, parameters, orphan, created_at)
     VALUES ($1, $2, coalesce((SELECT max(build_number) FROM workspace_builds WHERE workspace_id = $1), 0) + 1, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [b.workspaceId, b.templateVersionId, b.transition, b.reason, b.initiatorId, b.jobId, JSON.stringify(b.parameters), b.orphan, b.now],
  );
  return rows[0]!.id;
}

export async function getBuild(q: Queryable, id: string): Promise<BuildRow | undefined> {
  const { rows } = await q.query<BuildRow>(`${SELECT} WHERE b.id = $1`, [id]);
  return rows[0];
}

export async function getBuildByJob(q: Queryable, jobId: string): Promise<BuildRow | undefined> {
  const { rows } = await q.query<BuildRow>(`${SELECT} WHERE b.job_id = $1`, [jobId]);
  return rows[0];
}

export async function latestBuild(q: Queryable, workspaceId: string): Promise<BuildRow | undefined> {
  const { rows } = await q.query<BuildRow>(`${SELECT} WHERE b.workspace_id = $1 ORDER BY b.build_number DESC LIMIT 1`, [workspaceId]);
  return rows[0];
}

/** The resource state to diff against: the newest build that recorded one (a failed build records what it reached). */
export async function latestState(q: Queryable, workspaceId: string): Promise<BuildRow["state"]> {
  const { rows } = await q.query<{ state: BuildRow["state"] }>(
    "SELECT state FROM workspace_builds WHERE workspace_id = $1 AND state IS NOT NULL ORDER BY build_number DESC LIMIT 1",
    [workspaceId],
  );
  return rows[0]?.state ?? [];
}

export async function listBuilds(q: Queryable, workspaceId: string, limit = 100): Promise<BuildRow[]> {
  const { rows } = await q.query<BuildRow>(`${SELECT} WHERE b.workspace_id = $1 ORDER BY b.build_number DESC LIMIT $2`, [workspaceId, limit]);
  return rows;
}

export async function setBuildState(q: Queryable, id: string, state: unknown[], dailyCost: number): Promise<void> {
  await q.query("UPDATE workspace_builds SET state = $2, daily_cost = $3 WHERE id = $1", [id, JSON.stringify(state), dailyCost]);
}
