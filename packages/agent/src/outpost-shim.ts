// Inside a workspace, `outpost` (e.g. `outpost dotfiles REPO` in a startup script or an SSH session)
// runs through the agent: a one-line shim in a private directory that the agent puts first on the
// PATH of everything it starts. In a container that is the agent binary itself (it offers the
// in-workspace commands); for a process workspace, the CLI that started the agent.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AgentLogger } from "./logger.js";

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Writes the `outpost` shim for `command` and returns its directory, or undefined when it cannot. */
export function writeOutpostShim(command: string[], log: AgentLogger, baseDir = os.tmpdir()): string | undefined {
  if (command.length === 0) return undefined;
  const uid = typeof process.getuid === "function" ? process.getuid() : "user";
  const dir = path.join(baseDir, `outpost-agent-${uid}`, "bin");
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, "outpost");
    // Written aside and renamed: a session running the old shim never sees half a file.
    writeFileSync(`${file}.tmp`, `#!/bin/sh\nunset NODE_OPTIONS\nexec ${command.map(quote).join(" ")} "$@"\n`, { mode: 0o755 });
    renameSync(`${file}.tmp`, file);
    return dir;
  } catch (err) {
    log.warn("cannot write the outpost command for sessions", { directory: dir, error: err });
    return undefined;
  }
}

/** PATH with `dir` first (once). */
export function prependPath(pathVar: string | undefined, dir: string | undefined): string | undefined {
  if (!dir) return pathVar;
  const rest = (pathVar ?? "").split(":").filter((p) => p && p !== dir);
  return [dir, ...rest].join(":");
}
