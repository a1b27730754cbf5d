import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import type { BuildInfo } from "@outpost/sdk/buildinfo";

/** Version from the package, commit from git when the server runs from a checkout. Read once at start. */
export function readBuildInfo(): BuildInfo {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve("@outpost/server/package.json");
  const { version } = JSON.parse(readFileSync(pkgPath, "utf8")) as { version: string };
  const git = spawnSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: path.dirname(pkgPath), encoding: "utf8" });
  return { version, commit: git.status === 0 ? git.stdout.trim() : "unknown", api_version: "v2" };
}
