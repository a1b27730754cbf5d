import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../packages/server/src/db/embedded-postgres.js";
import { migrate } from "../packages/server/src/db/migrate.js";
import { createPool, databaseUrl, withClient } from "../packages/server/src/db/pool.js";
import { silentLogger } from "../packages/server/src/logger.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
    templateDb: string;
  }
}

const TEMPLATE_DB = "outpost_template";
let pg: EmbeddedPostgres | undefined;
let dir: string | undefined;

/**
 * One real PostgreSQL cluster per test run, with a migrated template database; each test file
 * clones its own database from the template (see packages/server/test/helpers/test-db.ts).
 */
export async function setup(project: TestProject): Promise<void> {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-test-pg-"));
  // The postgres user (when we run as root) must be able to reach the cluster inside this directory.
  await fs.chmod(dir, 0o755);
  pg = await startEmbeddedPostgres({ dataDir: dir, rootFallbackDir: path.join(dir, "root"), logger: silentLogger() });
  await withClient(pg.url, (c) => c.query(`CREATE DATABASE ${TEMPLATE_DB}`));
  const pool = createPool(databaseUrl(pg.url, TEMPLATE_DB), 2);
  await migrate(pool);
  await pool.end();
  project.provide("pgUrl", pg.url);
  project.provide("templateDb", TEMPLATE_DB);
}

export async function teardown(): Promise<void> {
  await pg?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}
