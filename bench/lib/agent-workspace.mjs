// A workspace with a real agent on this host, for benches that go through it: a process-driver template
// (the server's built-in daemons start `node <cli> agent` in a directory under the server's data dir),
// the CLI logged in and `outpost config-ssh` run in a private HOME, so OpenSSH reaches the workspace as
// `outpost.NAME` through `ProxyCommand outpost ssh --stdio`. The same flow as e2e/agent-ssh.test.ts.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { now, round, sleep, waitForJob } from "./outpost.mjs";
import { processesWithEnv } from "./proc.mjs";

export const AGENT_TEMPLATE = `import { agent, defineTemplate, processDriver } from "@outpost/template";
export default defineTemplate({
  build: ({ workspace }) => [workspace.transition === "start" && processDriver.agent({ agent: agent() })],
});
`;

/** Uploads a template folder holding `template.ts` and waits for its import; `extra` adds to the version request. */
export async function pushTemplate(api, work, name, source, extra = {}) {
  const dir = path.join(work, `template-${name}`);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, "template.ts"), source);
  const tar = spawnSync("tar", ["-c", "-C", dir, "."], { maxBuffer: 16 << 20 });
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  const { hash } = await api.call("POST", "/api/v2/files", { raw: tar.stdout, contentType: "application/x-tar" });
  const version = await api.post(`/api/v2/templates/${name}/versions`, { file_hash: hash, ...extra });
  const done = await waitForJob(api, `/api/v2/templateversions/${version.id}/logs`);
  if (done.job.status !== "succeeded") throw new Error(`template import ${done.job.status}: ${done.job.error}\n${done.logs.map((l) => l.output).join("\n")}`);
  return version;
}

/** Creates a workspace and waits until its build succeeded and its agent is connected and ready. */
export async function createAgentWorkspace(api, template, name, timeoutMs = 120_000) {
  const t0 = now();
  const ws = await api.post("/api/v2/users/me/workspaces", { name, template });
  const built = await waitForJob(api, `/api/v2/workspacebuilds/${ws.latest_build.id}/logs`);
  if (built.job.status !== "succeeded") throw new Error(`build of ${name} ${built.job.status}: ${built.job.error}\n${built.logs.map((l) => l.output).join("\n")}`);
  for (;;) {
    const w = await api.get(`/api/v2/workspaces/${ws.id}`);
    const a = w.agents[0];
    if (a?.status === "connected" && a.lifecycle_state === "ready") return { workspace: w, agent: a, readyMs: round(now() - t0) };
    if (now() - t0 > timeoutMs) throw new Error(`agent of ${name} not ready within ${timeoutMs} ms: ${JSON.stringify(w.agents)}\nbuild log:\n${built.logs.map((l) => l.output).join("\n")}`);
    await sleep(100);
  }
}

/** Deletes the workspace (delete build) and says which of its processes are still alive afterwards. */
export async function deleteWorkspace(api, workspace) {
  const build = await api.post(`/api/v2/workspaces/${workspace.id}/builds`, { transition: "delete" });
  const done = await waitForJob(api, `/api/v2/workspacebuilds/${build.id}/logs`);
  let left = processesWithEnv("OUTPOST_WORKSPACE_ID", workspace.id);
  for (let i = 0; i < 50 && left.length; i++) {
    await sleep(100);
    left = processesWithEnv("OUTPOST_WORKSPACE_ID", workspace.id);
  }
  return { status: done.job.status, error: done.job.error, leftProcesses: left };
}

/** Runs the CLI copy with the private HOME and config dir; resolves with its exit code and output. */
export function runCli(cli, env, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, cwd: env.HOME, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

/**
 * A private HOME for the CLI and OpenSSH: `outpost login URL --token T`, then `outpost config-ssh -y`.
 * Returns the environment to give `ssh` (its ProxyCommand reads the CLI session from it) and the
 * written ~/.ssh/config.
 */
export async function configSsh(cli, work, url, token) {
  const home = path.join(work, "home");
  const configDir = path.join(home, ".config", "outpost");
  await fs.mkdir(configDir, { recursive: true, mode: 0o700 });
  const env = { PATH: process.env.PATH, HOME: home, OUTPOST_CONFIG_DIR: configDir, LANG: "C.UTF-8", NO_COLOR: "1" };
  for (const args of [["login", url, "--token", token], ["config-ssh", "-y"]]) {
    const r = await runCli(cli, env, args);
    if (r.code !== 0) throw new Error(`outpost ${args[0]} exited ${r.code}: ${r.out}`);
  }
  return { env, home, sshConfig: path.join(home, ".ssh", "config"), block: await fs.readFile(path.join(home, ".ssh", "config"), "utf8") };
}
