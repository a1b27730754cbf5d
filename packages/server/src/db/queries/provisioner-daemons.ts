import type { Queryable } from "../pool.js";

export interface DaemonRow {
  id: string;
  name: string;
  tags: Record<string, string>;
  version: string;
  key_id: string | null;
  key_name: string | null;
  created_at: Date;
  last_seen_at: Date | null;
  current_job_id: string | null;
}

const SELECT = `SELECT d.id, d.name, d.tags, d.version, d.key_id, k.name AS key_name, d.created_at, d.last_seen_at,
  (SELECT j.id FROM provisioner_jobs j WHERE j.worker_id = d.id AND j.status IN ('running', 'canceling') LIMIT 1) AS current_job_id
  FROM provisioner_daemons d LEFT JOIN provisioner_keys k ON k.id = d.key_id`;

export async function insertDaemon(q: Queryable, d: { name: string; tags: Record<string, string>; version: string; keyId: string | null; now: Date }): Promise<DaemonRow> {
  const { rows } = await q.query<{ id: string }>(
    "INSERT INTO provisioner_daemons (name, tags, version, key_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    [d.name, JSON.stringify(d.tags), d.version, d.keyId, d.now],
  );
  return (await getDaemon(q, rows[0]!.id))!;
}

export async function getDaemon(q: Queryable, id: string): Promise<DaemonRow | undefined> {
  const { rows } = await q.query<DaemonRow>(`${SELECT} WHERE d.id = $1`, [id]);
  return rows[0];
}

export async function listDaemons(q: Queryable, seenSince: Date): Promise<DaemonRow[]> {
  const { rows } = await q.query<DaemonRow>(`${SELECT} WHERE d.last_seen_at >= $1 ORDER BY d.name, d.created_at`, [seenSince]);
  return rows;
}

export async function touchDaemon(q: Queryable, id: string, now: Date): Promise<void> {
  await q.query("UPDATE provisioner_daemons SET last_seen_at = $2 WHERE id = $1", [id, now]);
}

export interface ProvisionerKeyRow {
  id: string;
  name: string;
  hashed_secret: Buffer;
  tags: Record<string, string>;
  created_at: Date;
}

export async function insertProvisionerKey(q: Queryable, k: { name: string; hashedSecret: Buffer; tags: Record<string, string>; createdBy: string }): Promise<ProvisionerKeyRow> {
  const { rows } = await q.query<ProvisionerKeyRow>(
    "INSERT INTO provisioner_keys (name, hashed_secret, tags, created_by) VALUES ($1, $2, $3, $4) RETURNING id, name, hashed_secret, tags, created_at",
    [k.name, k.hashedSecret, JSON.stringify(k.tags), k.createdBy],
  );
  return rows[0]!;
}

export async function getProvisionerKey(q: Queryable, id: string): Promise<ProvisionerKeyRow | undefined> {
  const { rows } = await q.query<ProvisionerKeyRow>("SELECT id, name, hashed_secret, tags, created_at FROM provisioner_keys WHERE id = $1", [id]);
  return rows[0];
}

export async function listProvisionerKeys(q: Queryable): Promise<ProvisionerKeyRow[]> {
  const { rows } = await q.query<ProvisionerKeyRow>("SELECT id, name, hashed_secret, tags, created_at FROM provisioner_keys ORDER BY name");
  return rows;
}

export async function deleteProvisionerKey(q: Queryable, name: string): Promise<ProvisionerKeyRow | undefined> {
  const { rows } = await q.query<ProvisionerKeyRow>("DELETE FROM provisioner_keys WHERE name = $1 RETURNING id, name, hashed_secret, tags, created_at", [name]);
  return rows[0];
}
