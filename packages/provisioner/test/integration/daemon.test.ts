import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import { runDaemon } from "../../src/daemon.js";
import { ProcessDriver } from "../../src/drivers/process.js";
import { killWorkspaceProcesses } from "../helpers/process-cleanup.js";
import { daemonClient, tarOf, userClient } from "../../../server/test/helpers/fleet.js";
import { createTestServer, setupOwner, type TestServer } from "../../../server/test/helpers/test-server.js";
import { realAgentCommand } from "../helpers/agent-command.js";

const LOCAL_TEMPLATE = `import { defineTemplate, param, agent, processDriver } from "@outpost/template";
export default defineTemplate({
  parameters: { greeting: param.string({ default: "hello", description: "What the startup script writes" }) },
  build({ workspace, params }) {
    console.log("building", workspace.name, workspace.transition);
    return [
      workspace.transition === "start" &&
        processDriver.agent({ agent: agent({ startupScript: "echo " + params.greeting + " > greeting.txt" }), dailyCost: 3 }),
    ];
  },
});
`;

let s: TestServer;
let owner: FleetClient;
let dataDir: string;
const stop = new AbortController();
let daemonDone: Promise<void>;

async function waitForJob(read: () => Promise<{ job: { status: string } }>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const v = await read();
    if (["succeeded", "failed", "canceled"].includes(v.job.status)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("job did not finish");
}

beforeAll(async () => {
  s = await createTestServer({ listen: true });
  owner = userClient(s, await setupOwner(s));
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-daemon-test-"));
  daemonDone = runDaemon({ client: daemonClient(s), name: "built-in-1", drivers: [new ProcessDriver({ dataDir, agentCommand: await realAgentCommand() })], signal: stop.signal, heartbeatIntervalMs: 500 });
});
afterAll(async () => {
  stop.abort();
  await daemonDone;
  await s?.close();
  await killWorkspaceProcesses(dataDir);
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("provisioner daemon against a real server", () => {
  it("imports a pushed template: parameters, resource preview and logs", async () => {
    const { hash } = await owner.uploadFile(tarOf({ "template.ts": LOCAL_TEMPLATE }));
    const pushed = await owner.createTemplateVersion("local", { file_hash: hash });
    await waitForJob(() => owner.templateVersion("local", pushed.id));
    const v = await owner.templateVersion("local", pushed.id);
    expect(v.job.error).toBeNull();
    expect(v).toMatchObject({ active: true, parameters: [{ name: "greeting", spec: { type: "string", default: "hello" } }], resources: [{ address: "process_agent.main", daily_cost: 3 }] });
    const logs = (await owner.templateVersionLogs(v.id)).logs;
    expect(logs.map((l) => l.stage)).toContain("Parsing template");
    expect(logs.some((l) => l.output === "building preview start")).toBe(true);
  });

  it("fails the import of a template with a type error, naming file and line", async () => {
    const { hash } = await owner.uploadFile(tarOf({ "template.ts": `import { defineTemplate, param } from "@outpost/template";\nexport default defineTemplate({ parameters: { n: param.number({ default: "two" }) }, build: () => [] });\n` }));
    const pushed = await owner.createTemplateVersion("broken", { file_hash: hash });
    await waitForJob(() => owner.templateVersion("broken", pushed.id));
    const v = await owner.templateVersion("broken", pushed.id);
    expect(v.job.status).toBe("failed");
    expect(v.job.error).toMatch(/^template\.ts:2:\d+: .*string.*not assignable to type 'number'/);
    expect(v.active).toBe(false);
  });

  it("starts a process workspace, stops it keeping its directory, and deletes it", async () => {
    const ws = await owner.createWorkspace("me", { name: "local-dev", template: "local", parameters: { greeting: "bonjour" } });
    await waitForJob(() => owner.build(ws.latest_build.id));
    const started = await owner.workspace(ws.id);
    expect(started.latest_build.job.error).toBeNull();
    expect(started).toMatchObject({ status: "running", latest_build: { daily_cost: 3, resources: [{ address: "process_agent.main" }] } });
    const dir = path.join(dataDir, "workspaces", ws.id);
    for (let i = 0; i < 50 && !(await fs.access(path.join(dir, "greeting.txt")).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
    expect((await fs.readFile(path.join(dir, "greeting.txt"), "utf8")).trim()).toBe("bonjour");
    const logs = (await owner.buildLogs(ws.latest_build.id)).logs.map((l) => `${l.stage}: ${l.output}`);
    expect(logs).toContain("Planning: + process_agent.main");

    const stopBuild = await owner.createBuild(ws.id, { transition: "stop" });
    await waitForJob(() => owner.build(stopBuild.id));
    expect((await owner.workspace(ws.id)).status).toBe("stopped");
    expect(await fs.readFile(path.join(dir, "greeting.txt"), "utf8")).toContain("bonjour");

    const del = await owner.createBuild(ws.id, { transition: "delete" });
    await waitForJob(() => owner.build(del.id));
    expect((await owner.build(del.id)).status).toBe("deleted");
    await expect(fs.access(dir)).rejects.toThrow();
  });

  it("plans a candidate archive against each workspace without applying it", async () => {
    const ws = await owner.createWorkspace("me", { name: "plan-me", template: "local" });
    await waitForJob(() => owner.build(ws.latest_build.id));
    const changed = LOCAL_TEMPLATE.replace('"echo " + params.greeting', '"echo changed " + params.greeting');
    const { hash } = await owner.uploadFile(tarOf({ "template.ts": changed }));
    const queued = await owner.createTemplatePlan("local", hash);
    await waitForJob(() => owner.templatePlan("local", queued.id));
    const result = await owner.templatePlan("local", queued.id);
    expect(result.job.error).toBeNull();
    expect(result.workspaces).toEqual([{ workspace_id: ws.id, workspace_name: "plan-me", owner: "owner", lines: ["-/+ process_agent.main (agent)"], error: null }]);
    expect((await owner.templatePlanLogs(queued.id)).logs.some((l) => l.output === "-/+ process_agent.main (agent)")).toBe(true);
    // Nothing was applied: the workspace is still on its first build, running.
    expect(await owner.workspace(ws.id)).toMatchObject({ status: "running", latest_build: { id: ws.latest_build.id } });
    const same = await owner.createTemplatePlan("local", (await owner.uploadFile(tarOf({ "template.ts": LOCAL_TEMPLATE }))).hash);
    await waitForJob(() => owner.templatePlan("local", same.id));
    expect((await owner.templatePlan("local", same.id)).workspaces[0]!.lines).toEqual([]);
  });

  it("routes a tagged version only to daemons with its tags", async () => {
    const { hash } = await owner.uploadFile(tarOf({ "template.ts": LOCAL_TEMPLATE }));
    const tagged = await owner.createTemplateVersion("gpu-local", { file_hash: hash, provisioner_tags: { pool: "gpu" } });
    expect(tagged.provisioner_tags).toEqual({ pool: "gpu" });
    await new Promise((r) => setTimeout(r, 1500));
    // The untagged built-in daemon leaves it alone.
    expect((await owner.templateVersion("gpu-local", tagged.id)).job.status).toBe("pending");
    const gpuStop = new AbortController();
    const gpu = runDaemon({ client: daemonClient(s), name: "gpu-1", tags: { pool: "gpu" }, drivers: [new ProcessDriver({ dataDir, agentCommand: await realAgentCommand() })], signal: gpuStop.signal });
    try {
      await waitForJob(() => owner.templateVersion("gpu-local", tagged.id));
      const done = await owner.templateVersion("gpu-local", tagged.id);
      expect(done.job.status).toBe("succeeded");
      const daemons = await owner.listProvisionerDaemons();
      expect(daemons.find((d) => d.id === done.job.worker_id)?.name).toBe("gpu-1");
    } finally {
      gpuStop.abort();
      await gpu;
    }
  });

  it("delete --orphan forgets the resources and leaves them in place", async () => {
    const ws = await owner.createWorkspace("me", { name: "orphan-me", template: "local" });
    await waitForJob(() => owner.build(ws.latest_build.id));
    const dir = path.join(dataDir, "workspaces", ws.id);
    await fs.access(dir);
    const del = await owner.createBuild(ws.id, { transition: "delete", orphan: true });
    await waitForJob(() => owner.build(del.id));
    expect((await owner.build(del.id)).status).toBe("deleted");
    // Still there: an orphaning delete touches nothing.
    await fs.access(dir);
    const logs = (await owner.buildLogs(del.id)).logs.map((l) => l.output);
    expect(logs.some((l) => l.includes("forgotten, not removed"))).toBe(true);
    // Clean up what the orphaning left, as an admin would.
    const driver = new ProcessDriver({ dataDir });
    const ctx = { workspaceId: ws.id, transition: "delete" as const, templateDir: dir, log: () => undefined, signal: new AbortController().signal, agentEnv: () => ({}), outputsOf: () => undefined };
    for (const r of await driver.listByWorkspace(ws.id)) if (r.kind === "process") process.kill(-Number(r.id), "SIGKILL");
    await driver.deleteWorkspace!(ctx);
  });

  it("gives each started agent a token in its environment that the agent API accepts, until the stop", async () => {
    const ws = await owner.createWorkspace("me", { name: "token-env", template: "local" });
    await waitForJob(() => owner.build(ws.latest_build.id));
    const driver = new ProcessDriver({ dataDir });
    const proc = (await driver.listByWorkspace(ws.id)).find((r) => r.kind === "process")!;
    const environ = (await fs.readFile(`/proc/${proc.id}/environ`, "utf8")).split("\0");
    const token = environ.find((e) => e.startsWith("OUTPOST_AGENT_TOKEN="))!.split("=")[1]!;
    expect(token.length).toBeGreaterThanOrEqual(32);
    const get = () => fetch(`${s.url}/api/v2/workspaceagents/me/manifest`, { headers: { "Outpost-Agent-Token": token } });
    const res = await get();
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ agent_name: "main", workspace_name: "token-env" });
    expect((await owner.workspace(ws.id)).agents.map((a) => a.name)).toEqual(["main"]);
    const stop = await owner.createBuild(ws.id, { transition: "stop" });
    await waitForJob(() => owner.build(stop.id));
    expect((await get()).status).toBe(401);
    const del = await owner.createBuild(ws.id, { transition: "delete" });
    await waitForJob(() => owner.build(del.id));
  });
});
