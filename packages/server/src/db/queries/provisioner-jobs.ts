import type { JobStatus, JobType } from "@outpost/sdk/provisioner";
import type { Queryable } from "../pool.js";

export interface JobRow {
  id: string;
  type: JobType;
  status: JobStatus;
  file_hash: string;
  tags: Record<string, string>;
  input: Record<string, unknown>;
  worker_id: string | null;
  initiator_id: string | null;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  updated_at: Date;
  completed_at: Date | null;
  canceled_at: Date | null;
  result: Record<string, unknown> | null;
  queue_position: number;
}

const COLUMNS = `j.id, j.type, j.status, j.file_hash, j.tags, j.input, j.worker_id, j.initiator_id, j.error, j.created_at, j.started_at, j.updated_at, j.completed_at, j.canceled_at, j.result,
  CASE WHEN j.status = 'pending' THEN (SELECT count(*)::int FROM provisioner_jobs p WHERE p.status = 'pending' AND (p.created_at, p.id) <= (j.created_at, j.id)) ELSE 0 END AS queue_position`;

export async function insertJob(
  q: Queryable,
  j: { type: JobType; fileHash: string; tags: Record<string, string>; input: Record<string, unknown>; initiatorId: string | null; now: Date },
): Promise<string> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO provisioner_jobs (type, file_hash, tags, input, initiator_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
    [j.type, j.fileHash, JSON.stringify(j.tags), JSON.stringify(j.input), j.initiatorId, j.now],
  );
  return rows[0]!.id;
}

export async function getJob(q: Queryable, id: string): Promise<JobRow | undefined> {
  const { rows } = await q.query<JobRow>(`SELECT ${COLUMNS} FROM provisioner_jobs j WHERE j.id = $1`, [id]);
  return rows[0];
}

/** Takes the oldest pending job whose tags the daemon has; concurrent daemons never take the same job. */
export async function acquireJob(q: Queryable, daemonId: string, daemonTags: Record<string, string>, now: Date): Promise<JobRow | undefined> {
  const { rows } = await q.query<{ id: string }>(
    `UPDATE provisioner_jobs SET status = 'running', started_at = $3, updated_at = $3, worker_id = $1
     WHERE id = (SELECT p.id FROM provisioner_jobs p WHERE p.status = 'pending' AND p.tags <@ $2::jsonb
                   -- A build queued behind another (stop during start) waits until that one has ended.
                   AND NOT EXISTS (SELECT 1 FROM provisioner_jobs d WHERE d.id::text = p.input->>'after_job' AND d.status IN ('pending', 'running', 'canceling'))
                 ORDER BY p.created_at, p.id FOR UPDATE SKIP LOCKED LIMIT 1)
     RETURNING id`,
    [daemonId, JSON.stringify(daemonTags), now],
  );
  return rows[0] ? getJob(q, rows[0].id) : undefined;
}

/** Records liveness of a running job; returns its status (canceling tells the daemon to stop). */
export async function heartbeatJob(q: Queryable, id: string, workerId: string, now: Date): Promise<JobStatus | undefined> {
  const { rows } = await q.query<{ status: JobStatus }>(
    "UPDATE provisioner_jobs SET updated_at = $3 WHERE id = $1 AND worker_id = $2 AND status IN ('running', 'canceling') RETURNING status",
    [id, workerId, now],
  );
  return rows[0]?.status;
}

/** Ends a job; only a job that is still running or canceling can end (a second completion is a no-op). */
export async function finishJob(q: Queryable, id: string, status: "succeeded" | "failed" | "canceled", error: string | null, now: Date): Promise<boolean> {
  const r = await q.query(
    `UPDATE provisioner_jobs SET status = $2, error = $3, completed_at = $4, updated_at = $4,
       canceled_at = CASE WHEN $2 = 'canceled' THEN coalesce(canceled_at, $4) ELSE canceled_at END
     WHERE id = $1 AND status IN ('pending', 'running', 'canceling')`,
    [id, status, error, now],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Pending jobs are canceled at once; running ones are asked to stop (the daemon sees it on heartbeat). */
export async function requestCancel(q: Queryable, id: string, now: Date): Promise<JobStatus | undefined> {
  const { rows } = await q.query<{ status: JobStatus }>(
    `UPDATE provisioner_jobs SET
       status = CASE WHEN status = 'pending' THEN 'canceled' ELSE 'canceling' END,
       completed_at = CASE WHEN status = 'pending' THEN $2 ELSE completed_at END,
       error = CASE WHEN status = 'pending' THEN 'canceled before it started' ELSE error END,
       canceled_at = $2, updated_at = CASE WHEN status = 'pending' THEN $2 ELSE updated_at END
     WHERE id = $1 AND status IN ('pending', 'running') RETURNING status`,
    [id, now],
  );
  return rows[0]?.status;
}

/** Running jobs whose daemon has not heartbeated since `before`. */
export async function listHungJobs(q: Queryable, before: Date): Promise<JobRow[]> {
  const { rows } = await q.query<JobRow>(`SELECT ${COLUMNS} FROM provisioner_jobs j WHERE j.status IN ('running', 'canceling') AND j.updated_at < $1`, [before]);
  return rows;
}

export async function runningJobOf(q: Queryable, workerId: string): Promise<string | null> {
  const { rows } = await q.query<{ id: string }>("SELECT id FROM provisioner_jobs WHERE worker_id = $1 AND status IN ('running', 'canceling') LIMIT 1", [workerId]);
  return rows[0]?.id ?? null;
}

export async function setJobResult(q: Queryable, id: string, result: unknown): Promise<void> {
  await q.query("UPDATE provisioner_jobs SET result = $2 WHERE id = $1", [id, JSON.stringify(result)]);
}

/** Dry-run jobs of a template (job.input.template_id), for looking one up by id under its template. */
export async function getDryRunJob(q: Queryable, id: string, templateId: string): Promise<JobRow | undefined> {
  const { rows } = await q.query<JobRow>(`SELECT ${COLUMNS} FROM provisioner_jobs j WHERE j.id = $1 AND j.type = 'template_version_dry_run' AND j.input->>'template_id' = $2`, [id, templateId]);
  return rows[0];
}
