import type { JobLogInput } from "@outpost/sdk/provisioner";
import type { Queryable } from "../pool.js";

export interface JobLogRow {
  id: number;
  created_at: Date;
  stage: string;
  level: JobLogInput["level"];
  output: string;
}

export async function insertJobLogs(q: Queryable, jobId: string, logs: JobLogInput[], now: Date): Promise<void> {
  if (logs.length === 0) return;
  await q.query(
    `INSERT INTO provisioner_job_logs (job_id, created_at, stage, level, output)
     SELECT $1, $2, l.stage, l.level, l.output FROM jsonb_to_recordset($3::jsonb) AS l(stage text, level text, output text)`,
    [jobId, now, JSON.stringify(logs)],
  );
}

export async function listJobLogs(q: Queryable, jobId: string, after: number, limit = 5000): Promise<JobLogRow[]> {
  const { rows } = await q.query<JobLogRow>(
    "SELECT id::int AS id, created_at, stage, level, output FROM provisioner_job_logs WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    [jobId, after, limit],
  );
  return rows;
}

/** First and last log time per stage, in stage order: a build's timings. */
export async function stageTimings(q: Queryable, jobId: string): Promise<{ stage: string; started_at: Date; ended_at: Date }[]> {
  const { rows } = await q.query<{ stage: string; started_at: Date; ended_at: Date }>(
    "SELECT stage, min(created_at) AS started_at, max(created_at) AS ended_at FROM provisioner_job_logs WHERE job_id = $1 GROUP BY stage ORDER BY min(id)",
    [jobId],
  );
  return rows;
}
