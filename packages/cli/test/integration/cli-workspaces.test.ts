// The workspace commands (create, list, show, start, stop, restart, update, logs, cancel, delete) and
// `outpost provisioner` against a real server, with a test provisioner daemon taking the jobs.
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { ProvisionerKey } from "@outpost/sdk/provisioner";
import type { Workspace, WorkspaceBuild } from "@outpost/sdk/workspaces";
import { userClient } from "../../../server/test/helpers/fleet.js";
import { createTestServer, createUserWithRoles, setupOwner, type TestServer } from "../../../server/test/helpers/test-server.js";
import { cliSandbox, ensureCliBuilt, ROOT, STACK_TRACE, type CliSandbox } from "../helpers/run-cli.js";
import { TestDaemon } from "../helpers/test-daemon.js";

let s: TestServer;
let cli: CliSandbox;
let owner: FleetClient;
let daemon: TestDaemon;
let kim: { id: string; token: string };

beforeAll(async () => {
  await ensureCliBuilt();
  s = await createTestServer({ listen: true });
  const token = await setupOwner(s);
  owner = userClient(s, token);
  kim = await createUserWithRoles(s, token, "kim", []);
  daemon = await TestDaemon.register(s);
  cli = await cliSandbox();
  const r = await cli.run(["login", s.url, "--token", token]);
  if (r.code !== 0) throw new Error(`login: ${r.code} ${r.stderr}`);
  await fs.cp(path.join(ROOT, "examples/templates/docker"), path.join(cli.home, "docker"), { recursive: true });
  daemon.start();
  const pushed = await cli.run(["templates", "push", "docker", "-d", "docker", "-y"]);
  if (pushed.code !== 0) throw new Error(`push: ${pushed.code} ${pushed.stderr}`);
});
afterAll(async () => {
  await daemon?.stop();
  await s?.close();
  await cli?.cleanup();
});

const ws = (name: string, user = "me") => owner.workspaceByName(user, name);
const lastLine = (text: string) => text.trim().split("\n").at(-1);

describe("outpost create", () => {
  it("checks parameters locally and creates nothing when one is wrong (exit 2 naming it)", async () => {
    const range = await cli.run(["create", "dev", "-t", "docker", "--parameter", "cpus=9"]);
    expect(range.code).toBe(2);
    expect(range.stderr).toContain('error: invalid value for parameter "cpus": must be at most 8');
    expect(range.stderr).toContain("expected whole number, 1 to 8");
    const unknown = await cli.run(["create", "dev", "-t", "docker", "--parameter", "gpus=1"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: unknown parameter "gpus"');
    expect(unknown.stderr).toContain("template docker version v1 has: cpus, memory_mb, dotfiles_uri");
    const regex = await cli.run(["create", "dev", "-t", "docker", "--parameter", "dotfiles_uri=not a url"]);
    expect(regex.code).toBe(2);
    expect(regex.stderr).toContain('invalid value for parameter "dotfiles_uri": must be a git URL');
    const noTemplate = await cli.run(["create", "dev"]);
    expect(noTemplate.code).toBe(2);
    expect(noTemplate.stderr).toContain("missing -t/--template");
    const badName = await cli.run(["create", "Dev_1", "-t", "docker"]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain("invalid workspace name");
    const missingTemplate = await cli.run(["create", "dev", "-t", "nope"]);
    expect(missingTemplate.code).toBe(1);
    expect(missingTemplate.stderr).toContain("not found");
    expect((await owner.listWorkspaces({ owner: "all" })).count).toBe(0);
  });

  it("creates from flags and a parameter file, and follows the first build to the end", async () => {
    await fs.writeFile(path.join(cli.home, "params.json"), JSON.stringify({ memory_mb: 2048, cpus: 2 }));
    const r = await cli.run(["create", "dev", "-t", "docker", "--rich-parameter-file", "params.json", "--parameter", "cpus=4"]);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code).toBe(0);
    const w = await ws("dev");
    expect(r.stdout).toContain("plan | start dev for owner");
    expect(r.stdout).toContain(`apply | + docker_volume.outpost-${w.id}-home`);
    expect(r.stdout).toContain("apply | + docker_container.main");
    expect(r.stderr).toContain("Created workspace owner/dev from template docker (version v1).");
    expect(lastLine(r.stderr)).toMatch(/^Build #1 \(start\) of owner\/dev succeeded in \d+\.\ds: running\.$/);
    expect(w.status).toBe("running");
    expect(w.latest_build.parameters).toEqual([
      { name: "cpus", value: 4 },
      { name: "memory_mb", value: 2048 },
      { name: "dotfiles_uri", value: "" },
    ]);
    const dup = await cli.run(["create", "dev", "-t", "docker"]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain("error:");
    expect(dup.stderr).toContain("dev");
  });

  it("reads a YAML parameter file too, and --no-follow returns at once", async () => {
    await fs.writeFile(path.join(cli.home, "params.yaml"), "# small box\ncpus: 1\nmemory_mb: 1024\n");
    await daemon.stop(); // the build must still be pending when the CLI returns
    const r = await cli.run(["create", "small", "-t", "docker", "--rich-parameter-file", "params.yaml", "--no-follow"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Build #1 (start) of owner/small queued; follow it with `outpost logs owner/small -f`.");
    expect(r.stdout).toBe("");
    const w = await ws("small");
    expect(w.status).toBe("pending");
    expect(w.latest_build.parameters.slice(0, 2)).toEqual([{ name: "cpus", value: 1 }, { name: "memory_mb", value: 1024 }]);
    // `logs -f` follows it once a daemon runs it.
    const following = cli.run(["logs", "small", "-f"]);
    const job = await daemon.take(15);
    await daemon.run(job!);
    const logs = await following;
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain("apply | + docker_container.main");
    expect((await ws("small")).status).toBe("running");
    daemon.start();
  });
});

describe("outpost list and show", () => {
  it("list prints owner/name, template, status, last built and outdated; -a includes others", async () => {
    const kimCli = await cliSandbox();
    try {
      const env = { OUTPOST_URL: s.url, OUTPOST_SESSION_TOKEN: kim.token };
      const created = await kimCli.run(["create", "kims", "-t", "docker"], { env });
      expect(created.code).toBe(0);
      const kimList = await kimCli.run(["list"], { env });
      expect(kimList.stdout.split("\n").slice(1).filter(Boolean).map((l) => l.split(/\s+/)[0])).toEqual(["kim/kims"]);
      // A member cannot reach someone else's workspace: it does not exist for them.
      const peek = await kimCli.run(["show", "owner/dev"], { env });
      expect(peek.code).toBe(1);
      expect(peek.stderr).toContain("not found");
    } finally {
      await kimCli.cleanup();
    }
    const mine = await cli.run(["list"]);
    expect(mine.code).toBe(0);
    expect(mine.stdout.split("\n")[0]).toMatch(/^WORKSPACE\s+TEMPLATE\s+STATUS\s+AGENTS\s+LAST BUILT\s+OUTDATED$/);
    expect(mine.stdout).toMatch(/^owner\/dev\s+docker\s+running\s+-\s+\S+ ago\s+no$/m);
    expect(mine.stdout).not.toContain("kim/kims");
    const all = JSON.parse((await cli.run(["list", "-a", "-o", "json"])).stdout) as Workspace[];
    expect(all.map((w) => `${w.owner.username}/${w.name}`).sort()).toEqual(["kim/kims", "owner/dev", "owner/small"]);
    const bad = await cli.run(["list", "--status", "sleeping"]);
    expect(bad.code).toBe(2);
  });

  it("show prints status, version, parameters, resources and builds; OWNER/NAME reaches others' workspaces", async () => {
    const r = await cli.run(["show", "dev"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^workspace:\s+owner\/dev$/m);
    expect(r.stdout).toMatch(/^status:\s+running$/m);
    expect(r.stdout).toMatch(/^template:\s+docker, version v1$/m);
    expect(r.stdout).toMatch(/^\s+cpus = 4$/m);
    expect(r.stdout).toMatch(/^\s+docker_container\.main\s+main\s+4$/m);
    expect(r.stdout).toMatch(/^\s+1\s+start\s+succeeded\s+v1\s+owner\s+initiator\s+/m);
    const other = await cli.run(["show", "kim/kims", "-o", "json"]);
    expect(other.code).toBe(0);
    const parsed = JSON.parse(other.stdout) as Workspace & { builds: WorkspaceBuild[] };
    expect(parsed).toMatchObject({ name: "kims", owner: { username: "kim" }, status: "running" });
    expect(parsed.builds.map((b) => b.build_number)).toEqual([1]);
  });
});

describe("outpost stop, start, restart, logs", () => {
  it("stop keeps the volume; stopping again is refused with the server's reason", async () => {
    const r = await cli.run(["stop", "dev"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("apply | - docker_container.main");
    expect(r.stdout).not.toContain("- docker_volume");
    expect(lastLine(r.stderr)).toMatch(/^Build #2 \(stop\) of owner\/dev succeeded in \d+\.\ds: stopped\.$/);
    const w = await ws("dev");
    expect(w.status).toBe("stopped");
    expect(w.latest_build.resources.map((x) => x.type)).toEqual(["docker_volume"]);
    const again = await cli.run(["stop", "dev"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("error: the workspace is already stopped");
  });

  it("start changes a mutable parameter and refuses an immutable one before building", async () => {
    const immutable = await cli.run(["start", "dev", "--parameter", "dotfiles_uri=https://example.com/d.git"]);
    expect(immutable.code).toBe(2);
    expect(immutable.stderr).toContain('error: parameter "dotfiles_uri" cannot be changed after the workspace was created');
    expect((await ws("dev")).latest_build.build_number).toBe(2);
    const r = await cli.run(["start", "dev", "--parameter", "cpus=6"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("apply | + docker_container.main");
    const w = await ws("dev");
    expect(w).toMatchObject({ status: "running", latest_build: { build_number: 3, transition: "start" } });
    expect(w.latest_build.parameters).toContainEqual({ name: "cpus", value: 6 });
    expect(w.latest_build.parameters).toContainEqual({ name: "memory_mb", value: 2048 });
    const running = await cli.run(["start", "dev"]);
    expect(running.code).toBe(1);
    expect(running.stderr).toContain("error: the workspace is already running");
  });

  it("a failed build exits 1 with its error; logs --build replays it; restart repairs", async () => {
    daemon.behaviours.push({ fail: "docker: no space left on device" });
    const failed = await cli.run(["stop", "dev"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain("apply | docker: no space left on device");
    expect(failed.stderr).toContain("error: build #4 (stop) of owner/dev failed\n  docker: no space left on device");
    expect(failed.stderr).toContain("see `outpost logs owner/dev --build 4`");
    expect((await ws("dev")).status).toBe("failed");

    const logs = await cli.run(["logs", "dev", "--build", "4"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout.trim().split("\n")).toEqual(["plan | stop dev for owner", "apply | - docker_container.main", "apply | docker: no space left on device"]);
    const first = await cli.run(["logs", "dev", "--build", "1"]);
    expect(first.stdout).toContain("apply | + docker_container.main");
    const none = await cli.run(["logs", "dev", "--build", "99"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("owner/dev has no build #99");
    const badNumber = await cli.run(["logs", "dev", "--build", "last"]);
    expect(badNumber.code).toBe(2);

    const restart = await cli.run(["restart", "dev"]);
    expect(restart.code).toBe(0);
    expect(restart.stderr).toMatch(/Build #5 \(stop\) of owner\/dev succeeded/);
    expect(restart.stderr).toMatch(/Build #6 \(start\) of owner\/dev succeeded in \d+\.\ds: running\./);
    expect((await ws("dev")).status).toBe("running");
  });

  it("cancel cancels a queued build; logs -f then exits 1", async () => {
    await daemon.stop();
    const queued = await cli.run(["stop", "dev", "--no-follow"]);
    expect(queued.code).toBe(0);
    const canceled = await cli.run(["cancel", "dev"]);
    expect(canceled.code).toBe(0);
    expect(canceled.stdout).toMatch(/^Canceling build #7 \(stop\) of owner\/dev: the job is (canceled|canceling)\.$/m);
    const follow = await cli.run(["logs", "dev", "-f"]);
    expect(follow.code).toBe(1);
    expect(follow.stderr).toContain("error: build #7 (stop) was canceled");
    const nothing = await cli.run(["cancel", "dev"]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain("owner/dev has no build to cancel");
    daemon.start();
  });
});

describe("outpost update", () => {
  it("moves to the active version, asking only for new parameters", async () => {
    // Version v2 adds a parameter without a default.
    const source = await fs.readFile(path.join(cli.home, "docker/template.ts"), "utf8");
    await fs.mkdir(path.join(cli.home, "docker-v2"), { recursive: true });
    await fs.writeFile(
      path.join(cli.home, "docker-v2/template.ts"),
      source.replace("  parameters: {\n", '  parameters: {\n    team: param.string({ required: true, description: "Your team" }),\n'),
    );
    const pushed = await cli.run(["templates", "push", "docker", "-d", "docker-v2", "--name", "v2"]);
    expect(pushed.code).toBe(0);
    expect((await ws("dev")).outdated).toBe(true);
    const listed = await cli.run(["list"]);
    expect(listed.stdout).toMatch(/^owner\/dev\s+docker\s+\S+\s+-\s+\S+ ago\s+yes$/m);

    const batch = await cli.run(["update", "dev"]);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toContain('error: missing parameter "team"');
    expect(batch.stderr).toContain("--parameter team=VALUE  (string: Your team)");

    const r = await cli.runInTerminal(["update", "dev"], [{ expect: "team: ", send: "platform" }]);
    expect(r.stdout).not.toMatch(STACK_TRACE);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("template docker version v2 has new parameters:");
    expect(r.stdout).toContain("Updating owner/dev from version v1 to v2 of template docker.");
    const w = await ws("dev");
    expect(w).toMatchObject({ outdated: false, status: "running", latest_build: { template_version_name: "v2" } });
    expect(w.latest_build.parameters).toContainEqual({ name: "team", value: "platform" });
    expect(w.latest_build.parameters).toContainEqual({ name: "cpus", value: 6 });

    const again = await cli.run(["update", "dev"]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("owner/dev is already on the active version of template docker (v2).");
  });

  it("create in a terminal asks for missing parameters and for confirmation", async () => {
    const declined = await cli.runInTerminal(["create", "box", "-t", "docker"], [
      { expect: "team: ", send: "" },
      { expect: "team: ", send: "web" },
      { expect: "[Y/n]", send: "n" },
    ]);
    expect(declined.stdout).toContain("a value is required");
    expect(declined.stdout).toContain("Create workspace box from template docker (version v2) with team=web?");
    expect(declined.code).toBe(1);
    await expect(ws("box")).rejects.toMatchObject({ status: 404 });
    const r = await cli.runInTerminal(["create", "box", "-t", "docker", "--parameter", "cpus=3"], [
      { expect: "team: ", send: "web" },
      { expect: "[Y/n]", send: "" },
    ]);
    expect(r.code).toBe(0);
    expect((await ws("box")).latest_build.parameters).toContainEqual({ name: "cpus", value: 3 });

    // Without -t, the template is picked from a list.
    const picked = await cli.runInTerminal(["create", "picked", "-y"], [
      { expect: "Template: ", send: "1" },
      { expect: "team: ", send: "ops" },
    ]);
    expect(picked.stdout).toContain("1) docker");
    expect(picked.code).toBe(0);
    expect(await ws("picked")).toMatchObject({ template: { name: "docker" }, status: "running" });
    expect((await cli.run(["delete", "picked", "-y"])).code).toBe(0);
  });
});

describe("outpost delete", () => {
  it("needs confirmation, then removes every resource", async () => {
    const refused = await cli.run(["delete", "box"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("refusing to delete box without confirmation");
    const kept = await cli.runInTerminal(["delete", "box"], [{ expect: "Delete workspace owner/box?", send: "n" }]);
    expect(kept.code).toBe(1);
    expect((await ws("box")).status).toBe("running");
    const r = await cli.run(["delete", "box", "-y"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("apply | - docker_container.main");
    expect(r.stdout).toMatch(/apply \| - docker_volume\.outpost-.*-home/);
    expect(lastLine(r.stderr)).toMatch(/^Build #2 \(delete\) of owner\/box succeeded in \d+\.\ds: deleted\.$/);
    await expect(ws("box")).rejects.toMatchObject({ status: 404 });
  });

  it("--orphan forgets resources without a driver touching them", async () => {
    const r = await cli.run(["delete", "small", "-y", "--orphan"]);
    expect(r.code).toBe(0);
    const last = daemon.handled.at(-1)!;
    expect(last.build?.workspace).toMatchObject({ name: "small", transition: "delete" });
    await expect(ws("small")).rejects.toMatchObject({ status: 404 });
  });
});

describe("outpost provisioner", () => {
  it("keys create prints the key once; list and delete; provisioner list shows daemons", async () => {
    const bad = await cli.run(["provisioner", "keys", "create", "edge", "--tag", "Region=eu"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("invalid --tag");
    const r = await cli.run(["provisioner", "keys", "create", "edge", "--tag", "region=eu", "--tag", "gpu=true"]);
    expect(r.code).toBe(0);
    const key = r.stdout.trim();
    expect(key.length).toBeGreaterThan(20);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain('Created provisioner key "edge" (tags: gpu=true,region=eu). The key above is shown only once.');
    const keys = JSON.parse((await cli.run(["provisioner", "keys", "list", "-o", "json"])).stdout) as ProvisionerKey[];
    expect(keys.map((k) => [k.name, k.tags])).toEqual([["edge", { gpu: "true", region: "eu" }]]);
    expect(JSON.stringify(keys)).not.toContain(key);
    const table = await cli.run(["provisioner", "keys", "list"]);
    expect(table.stdout).toMatch(/^edge\s+gpu=true,region=eu\s+\S+ ago$/m);

    const daemons = await cli.run(["provisioner", "list"]);
    expect(daemons.code).toBe(0);
    expect(daemons.stdout.split("\n")[0]).toMatch(/^NAME\s+KEY\s+TAGS\s+VERSION\s+LAST SEEN\s+CURRENT JOB$/);
    expect(daemons.stdout).toMatch(/^cli-test-daemon\s+/m);

    const del = await cli.run(["provisioner", "keys", "delete", "edge"]);
    expect(del.code).toBe(0);
    expect(del.stdout.trim()).toBe("Deleted provisioner key edge.");
    expect(await owner.listProvisionerKeys()).toEqual([]);
    const gone = await cli.run(["provisioner", "keys", "delete", "edge"]);
    expect(gone.code).toBe(1);
  });
});
