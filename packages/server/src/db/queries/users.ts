import type { Queryable } from "../pool.js";

export interface UserRow {
  id: string;
  username: string;
  email: string;
  name: string;
  hashed_password: string | null;
  login_type: "password" | "none";
  status: "active" | "suspended";
  roles: string[];
  deleted: boolean;
  created_at: Date;
  updated_at: Date;
  last_seen_at: Date | null;
}

const COLUMNS = "id, username, email, name, hashed_password, login_type, status, roles, deleted, created_at, updated_at, last_seen_at";

export async function countUsers(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM users");
  return rows[0]!.n;
}

export interface InsertUser {
  username: string;
  email: string;
  name: string;
  hashedPassword: string | null;
  roles: string[];
}

export async function insertUser(q: Queryable, u: InsertUser): Promise<UserRow> {
  const { rows } = await q.query<UserRow>(
    `INSERT INTO users (username, email, name, hashed_password, roles) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [u.username, u.email, u.name, u.hashedPassword, u.roles],
  );
  return rows[0]!;
}

export async function getUserById(q: Queryable, id: string): Promise<UserRow | undefined> {
  const { rows } = await q.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1 AND NOT deleted`, [id]);
  return rows[0];
}

export async function getUserByUsername(q: Queryable, username: string): Promise<UserRow | undefined> {
  const { rows } = await q.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE lower(username) = lower($1) AND NOT deleted`, [username]);
  return rows[0];
}

export async function getUserByEmail(q: Queryable, email: string): Promise<UserRow | undefined> {
  const { rows } = await q.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1) AND NOT deleted`, [email]);
  return rows[0];
}

export interface UserFilter {
  search?: string;
  status?: string;
  role?: string;
  /** Restricts the list to one user (a caller who may read only themselves). */
  onlyId?: string;
  limit: number;
  offset: number;
}

export async function listUsers(q: Queryable, f: UserFilter): Promise<{ rows: UserRow[]; count: number }> {
  const where = ["NOT deleted"];
  const args: unknown[] = [];
  if (f.search) {
    args.push(`%${f.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    where.push(`(username ILIKE $${args.length} OR email ILIKE $${args.length} OR name ILIKE $${args.length})`);
  }
  if (f.status) {
    args.push(f.status);
    where.push(`status = $${args.length}`);
  }
  if (f.onlyId) {
    args.push(f.onlyId);
    where.push(`id = $${args.length}`);
  }
  if (f.role && f.role !== "member") {
    args.push(f.role);
    where.push(`$${args.length} = ANY(roles)`);
  }
  const clause = where.join(" AND ");
  const count = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE ${clause}`, args);
  const { rows } = await q.query<UserRow>(
    `SELECT ${COLUMNS} FROM users WHERE ${clause} ORDER BY lower(username) LIMIT $${args.length + 1} OFFSET $${args.length + 2}`,
    [...args, f.limit, f.offset],
  );
  return { rows, count: count.rows[0]!.n };
}

export async function updateUserProfile(q: Queryable, id: string, p: { username: string; name: string }): Promise<UserRow> {
  const { rows } = await q.query<UserRow>(
    `UPDATE users SET username = $2, name = $3, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, p.username, p.name],
  );
  return rows[0]!;
}

export async function updateUserPassword(q: Queryable, id: string, hashedPassword: string): Promise<void> {
  await q.query("UPDATE users SET hashed_password = $2, updated_at = now() WHERE id = $1", [id, hashedPassword]);
}

export async function updateUserStatus(q: Queryable, id: string, status: "active" | "suspended"): Promise<UserRow> {
  const { rows } = await q.query<UserRow>(`UPDATE users SET status = $2, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [id, status]);
  return rows[0]!;
}

export async function updateUserRoles(q: Queryable, id: string, roles: string[]): Promise<UserRow> {
  const { rows } = await q.query<UserRow>(`UPDATE users SET roles = $2, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [id, roles]);
  return rows[0]!;
}

export async function softDeleteUser(q: Queryable, id: string): Promise<void> {
  await q.query("UPDATE users SET deleted = true, updated_at = now() WHERE id = $1", [id]);
}

export async function touchUserLastSeen(q: Queryable, id: string, at: Date): Promise<void> {
  await q.query("UPDATE users SET last_seen_at = $2 WHERE id = $1", [id, at]);
}

export async function countActiveOwners(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM users WHERE NOT deleted AND status = 'active' AND 'owner' = ANY(roles)");
  return rows[0]!.n;
}

/** Serialises first-user creation: concurrent requests wait here, then see the winner's row. */
export async function lockUsersTable(q: Queryable): Promise<void> {
  await q.query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE");
}
