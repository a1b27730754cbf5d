#!/usr/bin/env node
// Launcher for the bundled CLI. The bundle is produced by `npm ci` (prepare) and by `npm start`/`npm test`.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const bundle = new URL("../dist/outpost.js", import.meta.url);
if (!existsSync(bundle)) {
  const script = fileURLToPath(new URL("../../../scripts/build.mjs", import.meta.url));
  const r = spawnSync(process.execPath, [script, "--quiet"], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
await import(bundle.href);
