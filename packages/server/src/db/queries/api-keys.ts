import type { Queryable } from "../pool.js";

export interface ApiKeyRow {
  id: string;
  hashed_secret: Buffer;
  user_id: string;
  name: string;
  login_type: "password" | "token";
  lifetime_seconds: number;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
}

const COLUMNS = "id, hashed_secret, user_id, name, login_type, lifetime_seconds, created_at, expires_at, last_used_at";

export async function insertApiKey(q: Queryable, k: Omit<ApiKeyRow, "last_used_at">): Promise<ApiKeyRow> {
  const { rows } = await q.query<ApiKeyRow>(
    `INSERT INTO api_keys (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL) RETURNING ${COLUMNS}`,
    [k.id, k.hashed_secret, k.user_id, k.name, k.login_type, k.lifetime_seconds, k.created_at, k.expires_at],
  );
  return rows[0]!;
}

export async function getApiKey(q: Queryable, id: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await q.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return rows[0];
}

export async function getTokenByName(q: Queryable, userId: string, name: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await q.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE user_id = $1 AND name = $2 AND login_type = 'token'`, [userId, name]);
  return rows[0];
}

export async function listTokens(q: Queryable, userId: string): Promise<ApiKeyRow[]> {
  const { rows } = await q.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE user_id = $1 AND login_type = 'token' ORDER BY created_at, id`, [userId]);
  return rows;
}

export async function deleteApiKey(q: Queryable, id: string): Promise<boolean> {
  const r = await q.query("DELETE FROM api_keys WHERE id = $1", [id]);
  return (r.rowCount ?? 0) > 0;
}

export async function deleteUserApiKeys(q: Queryable, userId: string): Promise<void> {
  await q.query("DELETE FROM api_keys WHERE user_id = $1", [userId]);
}

export async function deleteUserSessions(q: Queryable, userId: string, exceptId?: string): Promise<void> {
  await q.query("DELETE FROM api_keys WHERE user_id = $1 AND login_type = 'password' AND id <> coalesce($2, '')", [userId, exceptId ?? null]);
}

export async function touchApiKey(q: Queryable, id: string, at: Date): Promise<void> {
  await q.query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1", [id, at]);
}
