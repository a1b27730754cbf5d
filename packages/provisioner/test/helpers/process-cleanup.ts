import fs from "node:fs/promises";
import path from "node:path";
import { ProcessDriver } from "../../src/drivers/process.js";

/** Kills every agent process the process driver started under `dataDir` (workspaces a test left running). */
export async function killWorkspaceProcesses(dataDir: string): Promise<void> {
  const driver = new ProcessDriver({ dataDir });
  const ids = await fs.readdir(path.join(dataDir, "workspaces")).catch(() => [] as string[]);
  for (const id of ids) {
    for (const r of await driver.listByWorkspace(id).catch(() => [])) {
      if (r.kind !== "process") continue;
      try {
        process.kill(-Number(r.id), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}
