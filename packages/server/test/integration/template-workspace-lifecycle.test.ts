import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutpostError } from "@outpost/sdk/client-error";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import { failHungJobs } from "../../src/services/provisioner-jobs.js";
import { PARAMS_TEMPLATE, daemonClient, tarOf, userClient } from "../helpers/fleet.js";
import { createTestServer, createUserWithRoles, setupOwner, type TestServer } from "../helpers/test-server.js";

let s: TestServer;
let owner: FleetClient;
let member: FleetClient;
let daemon: FleetClient;
let daemonId: string;

beforeAll(async () => {
  s = await createTestServer({ listen: true });
  owner = userClient(s, await setupOwner(s));
  member = userClient(s, (await createUserWithRoles(s, owner.token!, "dana", [])).token);
  daemon = daemonClient(s);
  daemonId = (await daemon.registerDaemon({ name: "test-daemon", tags: {} })).id;
});
afterAll(async () => s?.close());

const state = (cpus: number) => [
  { address: "docker_volume.home", resource: { type: "docker_volume", name: "home" }, outputs: { id: "vol" } },
  { address: "docker_container.main", resource: { type: "docker_container", name: "main", cpus, dailyCost: 10 }, outputs: { id: "ctr" } },
];

async function pushVersion(name?: string) {
  const { hash } = await owner.uploadFile(tarOf({ "template.ts": "export default 1;\n" }));
  return owner.createTemplateVersion("dev", { file_hash: hash, ...(name ? { name } : {}) });
}

async function runImport(parameters: Record<string, unknown>[] = PARAMS_TEMPLATE) {
  const job = await daemon.acquireJob(daemonId, 0);
  expect(job?.type).toBe("template_version_import");
  await daemon.appendJobLogs(job!.id, [{ stage: "Parsing template", level: "info", output: "loaded template.ts" }]);
  await daemon.completeJob(job!.id, { import: { parameters, resources: [{ type: "docker_container", name: "main", dailyCost: 10 }] } });
  return job!;
}

describe("templates, versions and workspace builds through the provisioner API", () => {
  it("pushes a version, imports it through a daemon, and activates it", async () => {
    const version = await pushVersion();
    expect(version).toMatchObject({ name: "v1", template_name: "dev", active: false, job: { status: "pending", queue_position: 1 } });
    const job = await runImport();
    const archive = await daemon.jobArchive(job.id);
    expect(Buffer.from(archive).subarray(257, 262).toString()).toBe("ustar");
    const imported = await owner.templateVersion("dev", "v1");
    expect(imported).toMatchObject({ active: true, job: { status: "succeeded" }, parameters: PARAMS_TEMPLATE, resources: [{ address: "docker_container.main", daily_cost: 10 }] });
    const logs = await owner.templateVersionLogs(imported.id);
    expect(logs.logs.map((l) => l.output)).toEqual(["loaded template.ts"]);
    expect((await owner.template("dev")).active_version_id).toBe(imported.id);
    // Members see templates but may not push.
    expect((await member.listTemplates()).map((t) => t.name)).toEqual(["dev"]);
    await expect(member.uploadFile(tarOf({ "template.ts": "x" }))).rejects.toMatchObject({ status: 403 });
  });

  it("refuses uploads that are not tar archives", async () => {
    const err = await owner.uploadFile(new TextEncoder().encode("not a tar")).catch((e) => e as OutpostError);
    expect(err).toMatchObject({ status: 400, validations: [{ field: "body", detail: "is not a tar archive" }] });
  });

  it("creates a workspace, validates parameters, and derives status from the build", async () => {
    const bad = (await member.createWorkspace("me", { name: "box", template: "dev", parameters: { cpus: 99, colour: "red" } }).catch((e) => e)) as OutpostError;
    expect(bad.status).toBe(400);
    expect(bad.validations.map((v) => v.field).sort()).toEqual(["parameters.colour", "parameters.cpus"]);

    const ws = await member.createWorkspace("me", { name: "box", template: "dev", parameters: { cpus: "4" } });
    expect(ws).toMatchObject({ name: "box", status: "pending", outdated: false, latest_build: { build_number: 1, transition: "start" } });
    expect(ws.latest_build.parameters).toEqual([{ name: "cpus", value: 4 }, { name: "region", value: "eu" }, { name: "fresh", value: false }]);
    await expect(member.createWorkspace("me", { name: "box", template: "dev" })).rejects.toMatchObject({ status: 409 });

    const job = await daemon.acquireJob(daemonId, 0);
    expect(job?.build).toMatchObject({ workspace: { id: ws.id, name: "box", transition: "start" }, owner: { username: "dana" }, parameters: { cpus: 4 }, previous_state: [] });
    expect((await member.workspace(ws.id)).status).toBe("starting");
    await expect(member.createBuild(ws.id, { transition: "start" })).rejects.toMatchObject({ status: 409, message: expect.stringContaining("a build is already in progress") });
    await daemon.appendJobLogs(job!.id, [{ stage: "Applying", level: "info", output: "+ docker_container.main" }]);
    await daemon.completeJob(job!.id, { build: { state: state(4) } });
    const running = await member.workspace(ws.id);
    expect(running).toMatchObject({ status: "running", latest_build: { daily_cost: 10, resources: [{ address: "docker_volume.home" }, { address: "docker_container.main" }] } });
    expect(running.latest_build.timings.map((t) => t.stage)).toEqual(["Applying"]);
    await expect(member.createBuild(ws.id, { transition: "start" })).rejects.toMatchObject({ status: 409, message: "the workspace is already running" });
  });

  it("stops with the previous state, refuses an immutable change, and marks old versions outdated", async () => {
    const ws = (await member.listWorkspaces()).items[0]!;
    const stop = await member.createBuild(ws.id, { transition: "stop" });
    const job = await daemon.acquireJob(daemonId, 0);
    expect(job?.build?.previous_state.map((r) => r.address)).toEqual(["docker_volume.home", "docker_container.main"]);
    await daemon.completeJob(job!.id, { build: { state: state(4).slice(0, 1) } });
    expect((await member.build(stop.id)).status).toBe("stopped");

    await pushVersion("v2");
    await runImport([...PARAMS_TEMPLATE, { name: "editor", spec: { type: "string", default: "vim" } }]);
    const outdated = await member.workspace(ws.id);
    expect(outdated.outdated).toBe(true);
    const immutable = (await member.createBuild(ws.id, { transition: "start", parameters: { region: "us" } }).catch((e) => e)) as OutpostError;
    expect(immutable.validations).toEqual([{ field: "parameters.region", detail: "is immutable: it cannot change after the workspace is created" }]);
    const v2 = (await owner.template("dev")).active_version_id!;
    const update = await member.createBuild(ws.id, { transition: "start", template_version_id: v2, parameters: { cpus: 6 } });
    expect(update.parameters).toContainEqual({ name: "editor", value: "vim" });
    expect(update.parameters).toContainEqual({ name: "cpus", value: 6 });
    const started = await daemon.acquireJob(daemonId, 0);
    await daemon.completeJob(started!.id, { build: { state: state(6) } });
    expect((await member.workspace(ws.id)).outdated).toBe(false);
  });

  it("stop during a start cancels the start and runs after it winds down", async () => {
    const ws = await member.createWorkspace("me", { name: "quick", template: "dev" });
    const start = await daemon.acquireJob(daemonId, 0);
    const stop = await member.createBuild(ws.id, { transition: "stop" });
    expect((await member.build(ws.latest_build.id)).status).toBe("canceling");
    // The stop waits for the start's daemon to finish.
    expect(await daemon.acquireJob(daemonId, 0)).toBeUndefined();
    expect(await daemon.heartbeatJob(start!.id)).toEqual({ cancel_requested: true });
    await daemon.failJob(start!.id, { error: "canceled", state: state(2).slice(0, 1) });
    expect((await member.build(ws.latest_build.id)).status).toBe("canceled");
    const next = await daemon.acquireJob(daemonId, 0);
    expect(next?.build?.workspace_build_id).toBe(stop.id);
    expect(next?.build?.previous_state.map((r) => r.address)).toEqual(["docker_volume.home"]);
    await daemon.completeJob(next!.id, { build: { state: [] } });
  });

  it("fails a job whose daemon stopped heartbeating, and the workspace can start again", async () => {
    const ws = (await member.listWorkspaces({ q: "quick" })).items[0]!;
    await member.createBuild(ws.id, { transition: "start" });
    const job = await daemon.acquireJob(daemonId, 0);
    s.clock.advance(5 * 60_000);
    expect(await failHungJobs(s.deps, 90_000)).toEqual([job!.id]);
    const failed = await member.workspace(ws.id);
    expect(failed.status).toBe("failed");
    expect(failed.latest_build.job.error).toContain('provisioner daemon "test-daemon" stopped responding');
    await expect(daemon.completeJob(job!.id, { build: { state: [] } })).rejects.toMatchObject({ status: 409 });
    const again = await member.createBuild(ws.id, { transition: "start" });
    expect(again.status).toBe("pending");
    await member.cancelBuild(again.id);
    expect((await member.build(again.id)).status).toBe("canceled");
  });

  it("long-polls for a job and for logs", async () => {
    const ws = (await member.listWorkspaces({ q: "quick" })).items[0]!;
    const waiting = daemon.acquireJob(daemonId, 10);
    await new Promise((r) => setTimeout(r, 300));
    const build = await member.createBuild(ws.id, { transition: "start" });
    const job = await waiting;
    expect(job?.build?.workspace_build_id).toBe(build.id);
    const logsWait = member.buildLogs(build.id, 0, 10);
    await new Promise((r) => setTimeout(r, 300));
    await daemon.appendJobLogs(job!.id, [{ stage: "Applying", level: "info", output: "late line" }]);
    expect((await logsWait).logs.map((l) => l.output)).toEqual(["late line"]);
    await daemon.completeJob(job!.id, { build: { state: state(2) } });
  });

  it("keeps workspaces private, deletes them, and audits the lifecycle", async () => {
    const ws = (await member.listWorkspaces({ q: "quick" })).items[0]!;
    const other = userClient(s, (await createUserWithRoles(s, owner.token!, "olaf", [])).token);
    await expect(other.workspace(ws.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.createBuild(ws.id, { transition: "stop" })).rejects.toMatchObject({ status: 404 });
    expect((await owner.listWorkspaces({ owner: "all" })).count).toBe(2);
    const del = await member.createBuild(ws.id, { transition: "delete" });
    const job = await daemon.acquireJob(daemonId, 0);
    await daemon.completeJob(job!.id, { build: { state: [] } });
    expect((await member.build(del.id)).status).toBe("deleted");
    await expect(member.workspace(ws.id)).rejects.toMatchObject({ status: 404 });
    const audit = await owner.auditLogs({ resource_type: "workspace_build" });
    expect(audit.items.some((a) => a.action === "delete" && a.resource_name.startsWith("dana/quick#"))).toBe(true);
    expect((await owner.auditLogs({ resource_type: "template_version" })).count).toBe(2);
  });
});
