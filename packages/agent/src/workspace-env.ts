// What processes the agent starts (startup script, metadata scripts, terminals, SSH sessions) see:
// the agent's environment without its own secrets, the template's env, and OUTPOST_* variables naming
// the workspace; and where they start (the manifest's directory).
import { mkdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AgentManifest } from "@outpost/sdk/agents";
import { AGENT_TOKEN_ENV } from "@outpost/sdk/agents";
import type { AgentLogger } from "./logger.js";

/** Variables never passed on: the agent's token is its identity, NODE_OPTIONS would affect node children. */
const WITHHELD = new Set([AGENT_TOKEN_ENV, "NODE_OPTIONS"]);

export function childEnv(base: Record<string, string | undefined>, manifest: AgentManifest | undefined, serverUrl: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !WITHHELD.has(k)) env[k] = v;
  if (!manifest) return env;
  Object.assign(env, manifest.env);
  env.OUTPOST = "true";
  env.OUTPOST_URL = serverUrl;
  env.OUTPOST_WORKSPACE_ID = manifest.workspace_id;
  env.OUTPOST_WORKSPACE_NAME = manifest.workspace_name;
  env.OUTPOST_WORKSPACE_OWNER = manifest.owner_username;
  env.OUTPOST_AGENT_NAME = manifest.agent_name;
  return env;
}

/** A minimal environment when the caller gave none (the agent may not read process.env itself). */
export function minimalEnv(): Record<string, string> {
  const user = safeUserInfo();
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: os.homedir(),
    ...(user ? { USER: user.username, LOGNAME: user.username } : {}),
    SHELL: loginShell(),
    LANG: "C.UTF-8",
  };
}

export function safeUserInfo(): os.UserInfo<string> | undefined {
  try {
    return os.userInfo();
  } catch {
    return undefined; // a uid with no passwd entry (docker --user 12345)
  }
}

/** The user's login shell from passwd, unless it is missing or a nologin placeholder. */
export function loginShell(): string {
  const shell = safeUserInfo()?.shell;
  if (shell && path.isAbsolute(shell) && !/(nologin|false)$/.test(shell) && isFile(shell)) return shell;
  return isFile("/bin/bash") ? "/bin/bash" : "/bin/sh";
}

export function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export function expandHome(dir: string, home = os.homedir()): string {
  if (dir === "~") return home;
  if (dir.startsWith("~/")) return path.join(home, dir.slice(2));
  return dir;
}

/**
 * The working directory from the manifest: `~` expanded, relative paths under home, created when
 * missing; home when empty or when it cannot be created (logged).
 */
export function resolveDirectory(dir: string, log: AgentLogger, home = os.homedir()): string {
  if (dir.trim() === "") return home;
  const abs = path.resolve(home, expandHome(dir, home));
  try {
    mkdirSync(abs, { recursive: true });
    if (!statSync(abs).isDirectory()) throw new Error("not a directory");
    return abs;
  } catch (err) {
    log.warn("cannot use the workspace directory, using home instead", { directory: abs, home, error: err });
    return home;
  }
}
