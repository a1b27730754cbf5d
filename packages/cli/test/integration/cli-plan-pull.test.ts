// `templates plan` and `templates pull` through the real CLI, with a real provisioner daemon
// (process driver) running the `local` starter.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDaemon } from "../../../provisioner/src/daemon.js";
import { ProcessDriver } from "../../../provisioner/src/drivers/process.js";
import { killWorkspaceProcesses } from "../../../provisioner/test/helpers/process-cleanup.js";
import { daemonClient } from "../../../server/test/helpers/fleet.js";
import { createTestServer, setupOwner, type TestServer } from "../../../server/test/helpers/test-server.js";
import { cliSandbox, ensureCliBuilt, ROOT, STACK_TRACE, type CliSandbox } from "../helpers/run-cli.js";

const STARTER = path.join(ROOT, "examples/templates/local");
let s: TestServer;
let cli: CliSandbox;
let work: string;
const stop = new AbortController();
let daemon: Promise<void>;

beforeAll(async () => {
  await ensureCliBuilt();
  s = await createTestServer({ listen: true });
  const token = await setupOwner(s);
  cli = await cliSandbox();
  work = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-plan-pull-"));
  daemon = runDaemon({ client: daemonClient(s), name: "plan-pull", drivers: [new ProcessDriver({ dataDir: work, agentCommand: ["/bin/sleep", "infinity"] })], signal: stop.signal, heartbeatIntervalMs: 500 });
  const r = await cli.run(["login", s.url, "--token", token]);
  if (r.code !== 0) throw new Error(`login: ${r.stderr}`);
});
afterAll(async () => {
  stop.abort();
  await daemon;
  await s?.close();
  await cli?.cleanup();
  await killWorkspaceProcesses(work);
  await fs.rm(work, { recursive: true, force: true });
});

describe("outpost templates plan and pull", () => {
  it("plans a changed folder against each workspace without applying it", async () => {
    expect((await cli.run(["templates", "push", "local", "-d", STARTER, "-y"])).code).toBe(0);
    const none = await cli.run(["templates", "plan", "local", "-d", STARTER]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain("Template local has no workspaces");

    const create = await cli.run(["create", "dev", "-t", "local", "-y"]);
    expect(create.code, create.stderr).toBe(0);
    const changed = path.join(work, "changed");
    await fs.cp(STARTER, changed, { recursive: true });
    const src = await fs.readFile(path.join(changed, "template.ts"), "utf8");
    await fs.writeFile(path.join(changed, "template.ts"), src.replace('interval: 10 }]', 'interval: 30 }]'));

    const r = await cli.run(["templates", "plan", "local", "-d", changed]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("owner/dev:\n  -/+ process_agent.main (agent)");
    expect(r.stdout).toContain("1 of 1 workspace(s) would change.");
    const same = await cli.run(["templates", "plan", "local", "-d", STARTER, "-o", "json"]);
    expect(JSON.parse(same.stdout)).toEqual([expect.objectContaining({ workspace_name: "dev", lines: [], error: null })]);
    // Nothing was applied or pushed: still one build and one version.
    const builds = await cli.run(["show", "dev", "-o", "json"]);
    expect(JSON.parse(builds.stdout).latest_build.build_number).toBe(1);
    // The started agent is listed (a stand-in process here, so it never connects).
    const shown = await cli.run(["show", "dev"]);
    expect(shown.stdout).toMatch(/Agents:\n {2}main\n {4}status: +connecting \(started \d+s ago\)\n {4}lifecycle: +created\n/);
    const versions = await cli.run(["templates", "versions", "list", "local", "-o", "json"]);
    expect(JSON.parse(versions.stdout)).toHaveLength(1);
  });

  it("reports a broken folder as a failed plan, naming the file", async () => {
    const broken = path.join(work, "broken");
    await fs.mkdir(broken);
    await fs.writeFile(path.join(broken, "template.ts"), `import { defineTemplate } from "@outpost/template";\nexport default defineTemplate({ build: () => [42] });\n`);
    const r = await cli.run(["templates", "plan", "local", "-d", broken]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: the plan failed");
    expect(r.stderr).toMatch(/template\.ts:2:\d+/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });

  it("pulls the active version's files", async () => {
    const dest = path.join(work, "pulled");
    const r = await cli.run(["templates", "pull", "local", "-d", dest]);
    expect(r.code, r.stderr).toBe(0);
    for (const f of await fs.readdir(STARTER)) {
      expect(await fs.readFile(path.join(dest, f), "utf8")).toBe(await fs.readFile(path.join(STARTER, f), "utf8"));
    }
    const again = await cli.run(["templates", "pull", "local", "-d", dest]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists and is not empty");
  });
});
