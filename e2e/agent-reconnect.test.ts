// System test (issue: workspace agent): the real `outpost server` process restarts under a running
// workspace. The agent (started by the built-in provisioner's process driver, so it outlives the
// server) reconnects on its own; the workspace is not rebuilt; an SSH session open across the restart
// ends with a clear message, and a new one works.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetClient } from "@outpost/sdk/client-fleet";
import { killWorkspaceProcesses } from "../packages/provisioner/test/helpers/process-cleanup.js";
import { cliSandbox, ensureCliBuilt, type CliSandbox } from "../packages/cli/test/helpers/run-cli.js";
import { tarOf } from "../packages/server/test/helpers/fleet.js";
import { createTestDatabase } from "../packages/server/test/helpers/test-db.js";
import { freePort, until } from "./helpers.js";

const root = path.resolve(import.meta.dirname, "..");
const launcher = path.join(root, "packages/cli/bin/outpost.mjs");
const TEMPLATE = `import { agent, defineTemplate, processDriver } from "@outpost/template";
export default defineTemplate({ build: ({ workspace }) => [workspace.transition === "start" && processDriver.agent({ agent: agent({ startupScript: "echo up" }) })] });
`;

let port: number;
let dataDir: string;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let server: ChildProcess | undefined;
let serverErr = "";
let cli: CliSandbox;
let owner: FleetClient;



async function startServer(): Promise<void> {
  serverErr = "";
  const child = spawn(process.execPath, [launcher, "server"], {
    env: { PATH: process.env.PATH, HOME: os.tmpdir(), OUTPOST_HTTP_ADDRESS: `127.0.0.1:${port}`, OUTPOST_DATA_DIR: dataDir, OUTPOST_PG_CONNECTION_URL: database.url, OUTPOST_LOG_LEVEL: "warn", OUTPOST_PROVISIONER_DAEMONS: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server = child;
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (serverErr += d));
  await until("the server to start", async () => {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${serverErr}`);
    return out.includes("Press Ctrl-C to stop.") && (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
  });
}

async function stopServer(): Promise<void> {
  const child = server;
  if (!child || child.exitCode !== null) return;
  await new Promise((r) => {
    child.once("exit", r);
    child.kill("SIGTERM");
  });
}

function sshEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: cli.home, OUTPOST_CONFIG_DIR: cli.configDir };
}

function ssh(args: string[]): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; child: ChildProcess } {
  const child = spawn("ssh", ["-F", path.join(cli.home, ".ssh", "config"), ...args], { env: sshEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return { done, child };
}

beforeAll(async () => {
  await ensureCliBuilt();
  port = await freePort();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-e2e-reconnect-"));
  database = await createTestDatabase();
  await startServer();
  const url = `http://127.0.0.1:${port}`;
  const first = await new FleetClient({ url }).createFirstUser({ email: "owner@example.com", username: "owner", password: "Correct-horse-9" });
  void first;
  const login = await new FleetClient({ url }).login({ email: "owner@example.com", password: "Correct-horse-9" });
  owner = new FleetClient({ url, token: login.session_token });
  const { hash } = await owner.uploadFile(tarOf({ "template.ts": TEMPLATE }));
  const v = await owner.createTemplateVersion("local", { file_hash: hash });
  await until("the import", async () => (await owner.templateVersion("local", v.id)).job.status === "succeeded");
  cli = await cliSandbox();
  expect((await cli.run(["login", url, "--token", login.session_token])).code).toBe(0);
  expect((await cli.run(["config-ssh", "-y"])).code).toBe(0);
}, 180_000);

afterAll(async () => {
  await stopServer();
  if (dataDir) {
    await killWorkspaceProcesses(dataDir);
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  await database?.drop();
  await cli?.cleanup();
});

describe("a server restart under a running workspace", () => {
  it("the agent reconnects by itself, the workspace is not rebuilt, and SSH works again", async () => {
    const ws = await owner.createWorkspace("me", { name: "steady", template: "local" });
    const before = await until("the agent to connect", async () => {
      const w = await owner.workspace(ws.id);
      return w.agents[0]?.status === "connected" && w.agents[0].lifecycle_state === "ready" && w;
    });
    expect((await ssh(["outpost.steady", "echo before"]).done).stdout).toBe("before\n");

    // A session open across the restart ends, saying why.
    const long = ssh(["outpost.steady", "sleep 60"]);
    await new Promise((r) => setTimeout(r, 1500));
    const stopAt = Date.now();
    await stopServer();
    // Open sessions do not hold the shutdown: they are told and dropped.
    expect(Date.now() - stopAt, serverErr).toBeLessThan(10_000);
    const ended = await long.done;
    expect(ended.code).not.toBe(0);
    expect(ended.stderr).toMatch(/lost|closed|disconnected/i);
    await startServer();
    const after = await until("the agent to reconnect", async () => {
      const w = await owner.workspace(ws.id);
      return w.agents[0]?.status === "connected" && w;
    });
    expect(after.latest_build.id).toBe(before.latest_build.id);
    expect(after.agents[0]!.id).toBe(before.agents[0]!.id);
    expect(after.agents[0]!.lifecycle_state).toBe("ready");
    const again = await ssh(["outpost.steady", "echo after"]).done;
    expect(again, serverErr).toMatchObject({ code: 0, stdout: "after\n" });
  });
});
