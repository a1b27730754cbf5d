// The single-executable agent as a daemon against the real server: its environment checks, connecting
// and reporting ready, and a graceful SIGTERM (lifecycle off, exit 0), on this host and as PID 1 in the
// Node-less outpost/base image (no --init: the agent's own signal handlers must do it).
import { execFile, spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_TOKEN_ENV, AGENT_URL_ENV } from "@outpost/sdk/agents";
import { agentFleet, eventually, startWorkspace, type AgentFleet } from "../../../server/test/helpers/agent-fleet.js";
import { createTestServer, type TestServer } from "../../../server/test/helpers/test-server.js";
import { DEFAULT_DOCKER_SOCKET, ensureDocker, findBaseImage } from "../../../../test/docker-setup.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const BIN = path.join(root, "packages/agent/dist/outpost-agent-linux-amd64");

/** The agent runs without NODE_OPTIONS (a SEA honours it) and without the test runner's variables. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

let s: TestServer;
let f: AgentFleet;

beforeAll(async () => {
  const r = spawnSync(process.execPath, [path.join(root, "scripts/build-agent.mjs"), "--quiet"], { cwd: root, encoding: "utf8", env: cleanEnv(), timeout: 600_000 });
  if (r.status !== 0) throw new Error(`node scripts/build-agent.mjs failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  s = await createTestServer({ listen: true });
  f = await agentFleet(s);
}, 600_000);
afterAll(async () => s?.close());

describe("agent binary as a daemon on this host", () => {
  it("refuses to start without its URL and token, naming both", () => {
    const r = spawnSync(BIN, [], { encoding: "utf8", env: cleanEnv(), timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${AGENT_URL_ENV} and ${AGENT_TOKEN_ENV} must be set`);
    const bad = spawnSync(BIN, ["serve"], { encoding: "utf8", env: cleanEnv(), timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown command "serve"');
  });

  it("connects, runs the startup script, and on SIGTERM reports off and exits 0", async () => {
    const { ws, tokens } = await startWorkspace(f, "bin-host", [{ name: "main", spec: { startupScript: "echo from-the-binary" } }]);
    const id = ws.agents[0]!.id;
    const child = spawn(BIN, ["run"], { env: cleanEnv({ [AGENT_URL_ENV]: s.url, [AGENT_TOKEN_ENV]: tokens.main! }), stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      await eventually(async () => (await f.owner.agent(id)).lifecycle_state === "ready", 20_000, `ready (agent log: ${stderr})`);
      expect((await f.owner.agentLogs(id)).logs.map((l) => l.output)).toContain("from-the-binary");
      const t0 = Date.now();
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(stderr).toMatch(/received signal, shutting down signal=SIGTERM/);
      expect(stderr).toMatch(/agent stopped/);
      const after = await eventually(async () => {
        const a = await f.owner.agent(id);
        return a.status === "disconnected" ? a : undefined;
      }, 10_000, "disconnected");
      expect(after.lifecycle_state).toBe("off");
    } finally {
      child.kill("SIGKILL");
    }
  }, 60_000);
});

// --- as PID 1 in outpost/base ----------------------------------------------------------------------
const dockerReady = await ensureDocker(DEFAULT_DOCKER_SOCKET);
const baseImage = dockerReady.ok ? await findBaseImage({ build: true }) : undefined;
const dockerSkip = !dockerReady.ok ? dockerReady.reason : baseImage && "reason" in baseImage ? baseImage.reason : undefined;
const IMAGE = baseImage && "image" in baseImage ? baseImage.image : "outpost/base";

describe(`agent binary as PID 1 in ${IMAGE}${dockerSkip ? ` (no Docker: ${dockerSkip})` : ""}`, () => {
  it("connects over the host network, and `docker stop` (SIGTERM to PID 1) ends it cleanly with exit 0", async (ctx) => {
    if (dockerSkip) {
      if (process.env.CI) throw new Error(`CI is set but Docker is not usable: ${dockerSkip}`);
      ctx.skip(`no Docker engine or image: ${dockerSkip}`);
    }
    const { ws, tokens } = await startWorkspace(f, "bin-docker", [{ name: "main", spec: { startupScript: "echo pid=$$ ppid=$PPID; cat /proc/1/comm" } }]);
    const id = ws.agents[0]!.id;
    const name = `outpost-agent-test-${process.pid}-${Date.now()}`;
    const docker = (...args: string[]) => spawnSync("docker", args, { encoding: "utf8", timeout: 60_000 });
    const started = docker("run", "-d", "--name", name, "--network", "host", "-e", `${AGENT_URL_ENV}=${s.url}`, "-e", `${AGENT_TOKEN_ENV}=${tokens.main!}`, "-e", "OUTPOST_AGENT_LOG_LEVEL=debug", "-v", `${BIN}:/outpost-agent:ro`, IMAGE, "/outpost-agent");
    expect(started.status, started.stderr).toBe(0);
    try {
      await eventually(async () => (await f.owner.agent(id)).lifecycle_state === "ready", 30_000, "ready in the container");
      const lines = (await f.owner.agentLogs(id)).logs.map((l) => l.output);
      expect(lines).toContain("outpost-agent"); // /proc/1/comm: the agent is PID 1
      const t0 = Date.now();
      // Asynchronously: the server runs in this process and must keep serving while docker stops.
      const stopped = await dockerAsync("stop", "-t", "20", name);
      expect(stopped.status, stopped.stderr).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000); // not the 20 s SIGKILL fallback
      const inspect = docker("inspect", "-f", "{{.State.ExitCode}}", name);
      expect(inspect.stdout.trim()).toBe("0");
      const logs = docker("logs", name).stderr;
      expect(logs).toMatch(/received signal, shutting down signal=SIGTERM[\s\S]*agent stopped/);
      const after = await eventually(async () => {
        const a = await f.owner.agent(id);
        return a.status === "disconnected" ? a : undefined;
      }, 10_000, "disconnected");
      expect(after.lifecycle_state, logs).toBe("off");
    } finally {
      docker("rm", "-f", name);
    }
  }, 120_000);
});

function dockerAsync(...args: string[]): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile("docker", args, { timeout: 60_000 }, (err, _stdout, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }));
  });
}
