import fs from "node:fs/promises";
import path from "node:path";
import { createRequire } from "node:module";
import type { Db } from "./pool.js";
import { withTx } from "./pool.js";

// Any fixed 64-bit key; all replicas take the same one so only one migrates at a time.
const MIGRATION_LOCK_KEY = 7_401_123_581;

export function migrationsDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve("@outpost/server/package.json")), "src", "db", "migrations");
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function readMigrations(dir = migrationsDir()): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const out: Migration[] = [];
  for (const file of files) {
    const version = Number(file.slice(0, 4));
    if (out.some((m) => m.version === version)) throw new Error(`two migrations share version ${version}: ${file}`);
    out.push({ version, name: file.replace(/\.sql$/, ""), sql: await fs.readFile(path.join(dir, file), "utf8") });
  }
  return out;
}

/** Applies pending migrations in order, in one transaction, under an advisory lock. Returns the names applied. */
export async function migrate(db: Db, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? (await readMigrations());
  return withTx(db, async (q) => {
    await q.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await q.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const { rows } = await q.query<{ version: number; name: string }>("SELECT version, name FROM schema_migrations ORDER BY version");
    const known = new Set(all.map((m) => m.version));
    const unknown = rows.filter((r) => !known.has(r.version));
    if (unknown.length > 0) {
      throw new Error(`the database has migrations this server does not know (${unknown.map((r) => r.name).join(", ")}): it was used by a newer Outpost`);
    }
    const applied = new Set(rows.map((r) => r.version));
    const done: string[] = [];
    for (const m of all) {
      if (applied.has(m.version)) continue;
      await q.query(m.sql);
      await q.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      done.push(m.name);
    }
    return done;
  });
}
