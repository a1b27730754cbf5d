// System test (issue: templates and workspace lifecycle): a real server and database, a real
// provisioner daemon with the Docker driver, a real Docker engine and the `docker` starter template.
// Proves what persists: the home volume survives stop/start and a template update, and delete
// removes everything.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { Workspace } from "@outpost/sdk/workspaces";
import { runDaemon } from "../packages/provisioner/src/daemon.js";
import { DockerDriver } from "../packages/provisioner/src/drivers/docker.js";
import { daemonClient, userClient } from "../packages/server/test/helpers/fleet.js";
import { createTestServer, setupOwner, type TestServer } from "../packages/server/test/helpers/test-server.js";
import { dockerReady } from "./docker-ready.js";

const root = path.resolve(import.meta.dirname, "..");
const ready = await dockerReady();

function tarFolder(dir: string): Uint8Array {
  return new Uint8Array(execFileSync("tar", ["-c", "-C", dir, "."]));
}

let s: TestServer;
let owner: FleetClient;
const stop = new AbortController();
let daemon: Promise<void> | undefined;
const docker = new Docker({ socketPath: "/var/run/docker.sock" });
const created: string[] = [];

async function settle(client: FleetClient, buildId: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const b = await client.build(buildId);
    if (["succeeded", "failed", "canceled"].includes(b.job.status)) {
      if (b.job.status !== "succeeded") {
        const logs = (await client.buildLogs(buildId)).logs.map((l) => `${l.stage}: ${l.output}`).join("\n");
        throw new Error(`build ${b.build_number} ${b.transition} ${b.job.status}: ${b.job.error}\n${logs}`);
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("build did not finish in 120 s");
}

async function push(dir: string, name: string): Promise<void> {
  const { hash } = await owner.uploadFile(tarFolder(dir));
  const v = await owner.createTemplateVersion("docker", { file_hash: hash, name });
  for (let i = 0; i < 300; i++) {
    const got = await owner.templateVersion("docker", v.id);
    if (got.job.status === "succeeded") return;
    if (got.job.status === "failed") throw new Error(`import failed: ${got.job.error}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("import did not finish");
}

async function exec(container: string, script: string): Promise<string> {
  const driver = new DockerDriver();
  const r = await driver.exec(container, ["sh", "-c", script]);
  if (r.exitCode !== 0) throw new Error(`exec ${script}: ${r.exitCode} ${r.stderr}`);
  return r.stdout.trim();
}

const exists = (p: Promise<unknown>) => p.then(() => true, (e: { statusCode?: number }) => (e.statusCode === 404 ? false : Promise.reject(e)));

beforeAll(async () => {
  if (!ready.ok) return;
  s = await createTestServer({ listen: true });
  owner = userClient(s, await setupOwner(s));
  daemon = runDaemon({ client: daemonClient(s), name: "e2e-docker", drivers: [new DockerDriver()], signal: stop.signal, heartbeatIntervalMs: 1000 });
});
afterAll(async () => {
  stop.abort();
  await daemon;
  for (const id of created) {
    await docker.getContainer(`outpost-${id}-main`).remove({ force: true }).catch(() => undefined);
    await docker.getVolume(`outpost-${id}-home`).remove().catch(() => undefined);
  }
  await s?.close();
});

describe.skipIf(!ready.ok)(`docker workspace persistence${ready.ok ? "" : ` (skipped: ${ready.reason})`}`, () => {
  it("keeps the home volume across stop, start and a template update; delete removes everything", async () => {
    await push(path.join(root, "examples/templates/docker"), "v1");
    let ws: Workspace = await owner.createWorkspace("me", { name: "persist", template: "docker", parameters: { cpus: 1, memory_mb: 512 } });
    created.push(ws.id);
    await settle(owner, ws.latest_build.id);
    const container = `outpost-${ws.id}-main`;
    const volume = `outpost-${ws.id}-home`;
    expect((await owner.workspace(ws.id)).status).toBe("running");
    const info = await docker.getContainer(container).inspect();
    expect(info.Config.Labels["outpost.workspace_id"]).toBe(ws.id);
    expect(info.HostConfig.NetworkMode).toBe("host");
    await exec(container, "echo persisted-$PPID > /home/dev/proof.txt");
    const written = await exec(container, "cat /home/dev/proof.txt");

    ws = await owner.workspace(ws.id);
    const stopped = await owner.createBuild(ws.id, { transition: "stop" });
    await settle(owner, stopped.id);
    expect(await exists(docker.getContainer(container).inspect())).toBe(false);
    expect(await exists(docker.getVolume(volume).inspect())).toBe(true);

    const started = await owner.createBuild(ws.id, { transition: "start" });
    await settle(owner, started.id);
    expect(await exec(container, "cat /home/dev/proof.txt")).toBe(written);

    // A new version (an extra env var): the workspace is outdated until updated, and the file survives.
    const v2 = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-docker-v2-"));
    try {
      fs.cpSync(path.join(root, "examples/templates/docker"), v2, { recursive: true });
      const src = fs.readFileSync(path.join(v2, "template.ts"), "utf8").replace('HOME: "/home/dev",', 'HOME: "/home/dev",\n        TEMPLATE_GENERATION: "2",');
      expect(src).toContain("TEMPLATE_GENERATION");
      fs.writeFileSync(path.join(v2, "template.ts"), src);
      await push(v2, "v2");
    } finally {
      fs.rmSync(v2, { recursive: true, force: true });
    }
    expect((await owner.workspace(ws.id)).outdated).toBe(true);
    const active = (await owner.template("docker")).active_version_id!;
    const update = await owner.createBuild(ws.id, { transition: "stop" });
    await settle(owner, update.id);
    const updated = await owner.createBuild(ws.id, { transition: "start", template_version_id: active });
    await settle(owner, updated.id);
    expect((await owner.workspace(ws.id)).outdated).toBe(false);
    expect(await exec(container, "echo $TEMPLATE_GENERATION")).toBe("2");
    expect(await exec(container, "cat /home/dev/proof.txt")).toBe(written);

    const del = await owner.createBuild(ws.id, { transition: "delete" });
    await settle(owner, del.id);
    expect(await exists(docker.getContainer(container).inspect())).toBe(false);
    expect(await exists(docker.getVolume(volume).inspect())).toBe(false);
    const leftovers = await docker.listContainers({ all: true, filters: { label: [`outpost.workspace_id=${ws.id}`] } });
    expect(leftovers).toEqual([]);
  });
});
