// `outpost provisionerd start` as a real separate process with a provisioner key: it takes the jobs
// of the `local` starter (process driver, no Docker) pushed and built through the CLI.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import { killWorkspaceProcesses } from "../../../provisioner/test/helpers/process-cleanup.js";
import { userClient } from "../../../server/test/helpers/fleet.js";
import { createTestServer, setupOwner, type TestServer } from "../../../server/test/helpers/test-server.js";
import { cliSandbox, ensureCliBuilt, ROOT, STACK_TRACE, type CliSandbox } from "../helpers/run-cli.js";

let s: TestServer;
let cli: CliSandbox;
let owner: FleetClient;
let dataDir: string;

beforeAll(async () => {
  await ensureCliBuilt();
  s = await createTestServer({ listen: true });
  const token = await setupOwner(s);
  owner = userClient(s, token);
  cli = await cliSandbox();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-provisionerd-test-"));
  const r = await cli.run(["login", s.url, "--token", token]);
  if (r.code !== 0) throw new Error(`login: ${r.code} ${r.stderr}`);
});
afterAll(async () => {
  await s?.close();
  await cli?.cleanup();
  if (dataDir) {
    await killWorkspaceProcesses(dataDir);
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});

interface Daemon {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `outpost provisionerd start ARGS` in the background (the run-cli helper waits for exit). */
function startDaemon(args: string[]): Daemon {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("OUTPOST_") && k !== "NODE_OPTIONS") env[k] = v;
  const child = spawn(process.execPath, [path.join(ROOT, "packages/cli/bin/outpost.mjs"), "provisionerd", "start", ...args], {
    cwd: cli.home,
    env: { ...env, HOME: cli.home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("outpost provisionerd start", () => {
  it("refuses a missing or rejected key", async () => {
    const missing = await cli.run(["provisionerd", "start", "--url", s.url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("error: missing --key");
    const bad = await cli.run(["provisionerd", "start", "--url", s.url, "--key", "00000000-0000-4000-8000-000000000000:nope", "--data-dir", dataDir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error: the server refused the provisioner key: invalid provisioner key");
    expect(bad.stderr).not.toMatch(STACK_TRACE);
    const badTag = await cli.run(["templates", "push", "x", "-d", ".", "--provisioner-tag", "site"]);
    expect(badTag.code).toBe(2);
    expect(badTag.stderr).toContain('invalid --provisioner-tag "site"');
  });

  it("runs the import and the builds of a local workspace, and stops on SIGTERM", async () => {
    const created = await cli.run(["provisioner", "keys", "create", "edge", "--tag", "site=lab"]);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    const daemon = startDaemon(["--key", key, "--url", s.url, "--name", "lab-1", "--data-dir", dataDir]);
    try {
      await waitFor("the daemon to register", async () => ((await owner.listProvisionerDaemons()).some((d) => d.name === "lab-1") ? true : undefined));
      const listed = await cli.run(["provisioner", "list"]);
      expect(listed.stdout).toMatch(/^lab-1\s+edge\s+site=lab\s+0\.1\.0\s+/m);

      expect((await cli.run(["templates", "init", "--starter", "local", "local"])).code).toBe(0);
      // Tagged: only a daemon with site=lab (this one) may import and build it.
      const pushed = await cli.run(["templates", "push", "local", "-d", "local", "-y", "--provisioner-tag", "site=lab"]);
      expect(pushed.stderr).not.toMatch(STACK_TRACE);
      expect(pushed.code).toBe(0);
      expect(pushed.stdout).toContain("Template local: version v1 imported and active.");
      const v1 = await owner.templateVersion("local", "v1");
      expect(v1.parameters.map((p) => p.name)).toEqual(["repo"]);
      expect(v1.job.tags).toMatchObject({ site: "lab" });

      const create = await cli.run(["create", "dev", "-t", "local"]);
      expect(create.code).toBe(0);
      expect(create.stdout).toMatch(/\| \+ process_agent\.main/);
      const ws = await owner.workspaceByName("me", "dev");
      expect(ws.status).toBe("running");
      expect(ws.latest_build.job.tags).toMatchObject({ site: "lab" });
      const dir = path.join(dataDir, "workspaces", ws.id);
      expect((await fs.stat(dir)).isDirectory()).toBe(true);

      const stop = await cli.run(["stop", "dev"]);
      expect(stop.code).toBe(0);
      expect((await owner.workspace(ws.id)).status).toBe("stopped");
      expect((await fs.stat(dir)).isDirectory()).toBe(true);

      const del = await cli.run(["delete", "dev", "-y"]);
      expect(del.code).toBe(0);
      await expect(fs.access(dir)).rejects.toThrow();
      await expect(owner.workspaceByName("me", "dev")).rejects.toMatchObject({ status: 404 });
    } finally {
      daemon.child.kill("SIGTERM");
    }
    expect(await daemon.exited).toBe(0);
    expect(daemon.stderr()).toContain("SIGTERM: stopping after the current job winds down");
    expect(daemon.stderr()).toContain("provisioner daemon stopped");
  });
});
