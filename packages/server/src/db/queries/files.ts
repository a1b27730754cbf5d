import type { Queryable } from "../pool.js";

export async function insertFile(q: Queryable, f: { hash: string; data: Buffer; createdBy: string }): Promise<void> {
  await q.query("INSERT INTO files (hash, data, size, created_by) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING", [f.hash, f.data, f.data.length, f.createdBy]);
}

export async function getFile(q: Queryable, hash: string): Promise<{ data: Buffer; created_by: string | null } | undefined> {
  const { rows } = await q.query<{ data: Buffer; created_by: string | null }>("SELECT data, created_by FROM files WHERE hash = $1", [hash]);
  return rows[0];
}

export async function fileExists(q: Queryable, hash: string): Promise<boolean> {
  const { rows } = await q.query("SELECT 1 FROM files WHERE hash = $1", [hash]);
  return rows.length > 0;
}
