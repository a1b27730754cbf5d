// Children the agent starts (startup script, metadata scripts) run in their own process group, so
// stopping one also stops whatever it started in the background (`sleep 100 &`, a dev server), and the
// agent can kill them all at shutdown.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import path from "node:path";
import { isFile } from "./workspace-env.js";

/** bash when the workspace has it (scripts written for it are the norm), else sh. */
export function scriptShell(env: Record<string, string>): string {
  for (const dir of (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    if (dir && isFile(path.join(dir, "bash"))) return path.join(dir, "bash");
  }
  return isFile("/bin/bash") ? "/bin/bash" : "/bin/sh";
}

export function spawnGroup(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return spawn(command, args, { ...options, detached: true });
}

/** Signals the child's whole process group; ignores a group that is already gone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM to the group, SIGKILL after `graceMs` if the child has not exited. Resolves on exit. */
export function stopGroup(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.pid === undefined) return Promise.resolve(); // never started
  if (child.exitCode !== null || child.signalCode !== null) {
    killGroup(child, "SIGKILL"); // its background children may still run
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      killGroup(child, "SIGKILL");
      resolve();
    });
    killGroup(child, "SIGTERM");
  });
}
