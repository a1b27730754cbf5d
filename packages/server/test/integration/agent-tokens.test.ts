import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import { PARAMS_TEMPLATE, daemonClient, tarOf, userClient } from "../helpers/fleet.js";
import { createTestServer, setupOwner, type TestServer } from "../helpers/test-server.js";

let s: TestServer;
let owner: FleetClient;
let daemon: FleetClient;
let daemonId: string;

const TOKEN_A = "a".repeat(43);
const TOKEN_B = "b".repeat(43);
const agentSpec = { name: "main", os: "linux", arch: "amd64", dir: "/home/dev", startupScript: "echo hi", env: { EDITOR: "vim" } };
const state = [{ address: "docker_container.main", resource: { type: "docker_container", name: "main", agent: agentSpec }, outputs: {} }];

async function manifest(token: string) {
  return s.request({ method: "GET", url: "/api/v2/workspaceagents/me/manifest", headers: { "outpost-agent-token": token } });
}

async function finishNext(agents: object[]) {
  const job = (await daemon.acquireJob(daemonId, 0))!;
  await daemon.completeJob(job.id, { build: { state, agents: agents as never } });
}

beforeAll(async () => {
  s = await createTestServer({ listen: true });
  owner = userClient(s, await setupOwner(s));
  daemon = daemonClient(s);
  daemonId = (await daemon.registerDaemon({ name: "agents" })).id;
  const { hash } = await owner.uploadFile(tarOf({ "template.ts": "x" }));
  await owner.createTemplateVersion("dev", { file_hash: hash });
  const job = (await daemon.acquireJob(daemonId, 0))!;
  await daemon.completeJob(job.id, { import: { parameters: PARAMS_TEMPLATE, resources: [] } });
});
afterAll(async () => s?.close());

describe("agent tokens", () => {
  it("authenticates a started agent, keeps its token while its resource is kept, and revokes it on stop", async () => {
    const ws = await owner.createWorkspace("me", { name: "agented", template: "dev" });
    await finishNext([{ name: "main", resource_address: "docker_container.main", spec: agentSpec, token: TOKEN_A }]);
    const res = await manifest(TOKEN_A);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ api_version: 1, agent_name: "main", workspace_name: "agented", owner_username: "owner", directory: "/home/dev", startup_script: "echo hi", env: { EDITOR: "vim" } });
    expect((await owner.workspace(ws.id)).agents).toMatchObject([{ name: "main", status: "connecting", lifecycle_state: "created", directory: "/home/dev" }]);
    const { rows } = await s.deps.db.query("SELECT hashed_token FROM workspace_agents");
    expect(rows[0].hashed_token.toString("utf8")).not.toContain(TOKEN_A);

    // An update that keeps the container keeps the running agent's token.
    await owner.createBuild(ws.id, { transition: "start", template_version_id: (await owner.template("dev")).active_version_id!, parameters: { cpus: 3 } });
    await finishNext([{ name: "main", resource_address: "docker_container.main", spec: agentSpec, keep: true }]);
    expect((await manifest(TOKEN_A)).statusCode).toBe(200);

    await owner.createBuild(ws.id, { transition: "stop" });
    await finishNext([]);
    const revoked = await manifest(TOKEN_A);
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json()).toMatchObject({ code: "UNAUTHENTICATED", message: "invalid agent token" });
    expect((await owner.workspace(ws.id)).agents).toEqual([]);

    await owner.createBuild(ws.id, { transition: "start" });
    await finishNext([{ name: "main", resource_address: "docker_container.main", spec: agentSpec, token: TOKEN_B }]);
    expect((await manifest(TOKEN_B)).statusCode).toBe(200);
    expect((await manifest(TOKEN_A)).statusCode).toBe(401);
  });

  it("refuses a missing or unknown token and a too-short reported token", async () => {
    expect((await s.request({ method: "GET", url: "/api/v2/workspaceagents/me/manifest" })).statusCode).toBe(401);
    expect((await manifest("not-a-token")).statusCode).toBe(401);
    const ws = await owner.createWorkspace("me", { name: "short", template: "dev" });
    const job = (await daemon.acquireJob(daemonId, 0))!;
    await expect(daemon.completeJob(job.id, { build: { state, agents: [{ name: "main", resource_address: "x", spec: {}, token: "short" }] } })).rejects.toMatchObject({ status: 400 });
    await daemon.completeJob(job.id, { build: { state, agents: [] } });
    expect((await owner.workspace(ws.id)).status).toBe("running");
  });
});
