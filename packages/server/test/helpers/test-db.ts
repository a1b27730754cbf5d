import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { createPool, databaseUrl, withClient, type Db } from "../../src/db/pool.js";

/** A fresh database cloned from the migrated template: each test file gets its own. */
export async function createTestDatabase(): Promise<{ db: Db; url: string; drop(): Promise<void> }> {
  const base = inject("pgUrl");
  const name = `test_${randomBytes(6).toString("hex")}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await withClient(base, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${inject("templateDb")}`));
      break;
    } catch (err) {
      // Two files cloning the template at the same instant can collide; retry briefly.
      if (attempt > 20 || !/being accessed by other users/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  const url = databaseUrl(base, name);
  const db = createPool(url, 10);
  return {
    db,
    url,
    drop: async () => {
      await db.end();
      await withClient(base, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
