// `outpost templates ...` against a real server, with a test provisioner daemon running the real
// template loader on what the CLI uploads.
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { Template, TemplateVersion } from "@outpost/sdk/templates";
import { userClient } from "../../../server/test/helpers/fleet.js";
import { createTestServer, createUserWithRoles, setupOwner, type TestServer } from "../../../server/test/helpers/test-server.js";
import { cliSandbox, ensureCliBuilt, ROOT, STACK_TRACE, type CliSandbox } from "../helpers/run-cli.js";
import { TestDaemon } from "../helpers/test-daemon.js";

let s: TestServer;
let cli: CliSandbox;
let owner: FleetClient;
let daemon: TestDaemon;
let memberToken: string;

beforeAll(async () => {
  await ensureCliBuilt();
  s = await createTestServer({ listen: true });
  const token = await setupOwner(s);
  owner = userClient(s, token);
  memberToken = (await createUserWithRoles(s, token, "mona", [])).token;
  daemon = await TestDaemon.register(s);
  cli = await cliSandbox();
  const r = await cli.run(["login", s.url, "--token", token]);
  if (r.code !== 0) throw new Error(`login: ${r.code} ${r.stderr}`);
});
afterAll(async () => {
  await daemon?.stop();
  await s?.close();
  await cli?.cleanup();
});

const inHome = (...p: string[]) => path.join(cli.home, ...p);

async function withDaemon<T>(fn: () => Promise<T>): Promise<T> {
  daemon.start();
  try {
    return await fn();
  } finally {
    await daemon.stop();
  }
}

describe("outpost templates init", () => {
  it("copies a starter; refuses a non-empty folder; needs --starter without a terminal", async () => {
    const r = await cli.run(["templates", "init", "--starter", "docker", "my-docker"]);
    expect(r.stderr).toContain("Next: edit my-docker/template.ts, then `outpost templates push NAME -d my-docker`.");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("Created my-docker from the docker starter (README.md, template.ts).");
    for (const f of ["template.ts", "README.md"]) {
      expect(await fs.readFile(inHome("my-docker", f), "utf8")).toBe(await fs.readFile(path.join(ROOT, "examples/templates/docker", f), "utf8"));
    }
    // Without a folder, the starter's name is used.
    const local = await cli.run(["templates", "init", "--starter", "local"]);
    expect(local.code).toBe(0);
    expect((await fs.readdir(inHome("local"))).sort()).toEqual(["README.md", "template.ts"]);

    const again = await cli.run(["templates", "init", "--starter", "docker", "my-docker"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${inHome("my-docker")} already exists and is not empty`);

    const batch = await cli.run(["templates", "init", "somewhere"]);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toContain("missing --starter");
    expect(batch.stderr).toContain("docker, docker-dockerfile, local");
    const unknown = await cli.run(["templates", "init", "--starter", "kubernetes"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('invalid value for --starter: "kubernetes"');
  });

  it("asks for the starter in a terminal", async () => {
    const r = await cli.runInTerminal(["templates", "init", "picked"], [{ expect: "Starter (1): ", send: "2" }]);
    expect(r.stdout).toContain("2) docker-dockerfile");
    expect(r.code).toBe(0);
    expect((await fs.readdir(inHome("picked"))).sort()).toEqual(["Dockerfile", "README.md", "template.ts", "welcome.sh"]);
  });
});

describe("outpost templates push", () => {
  it("checks the folder and the arguments before sending anything", async () => {
    await fs.mkdir(inHome("empty-dir"), { recursive: true });
    const noTemplate = await cli.run(["templates", "push", "empty", "-d", "empty-dir", "-y"]);
    expect(noTemplate.code).toBe(1);
    expect(noTemplate.stderr).toContain(`error: no template.ts in ${inHome("empty-dir")}`);
    const missing = await cli.run(["templates", "push", "x", "-d", "nope", "-y"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("does not exist");

    await fs.mkdir(inHome("huge"), { recursive: true });
    await fs.writeFile(inHome("huge", "template.ts"), "export default 1;\n");
    const big = await fs.open(inHome("huge", "disk.img"), "w");
    await big.truncate(12 * 1024 * 1024);
    await big.close();
    const tooBig = await cli.run(["templates", "push", "huge", "-d", "huge", "-y"]);
    expect(tooBig.code).toBe(1);
    expect(tooBig.stderr).toContain("error: the template archive would be 12.0 MiB, over the 10.0 MiB limit");
    expect(tooBig.stderr).toContain("disk.img (12.0 MiB)");

    const badName = await cli.run(["templates", "push", "Bad_Name", "-d", "my-docker", "-y"]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain("invalid template name");
    const badActivate = await cli.run(["templates", "push", "docker", "-d", "my-docker", "--activate=maybe"]);
    expect(badActivate.code).toBe(2);
    expect(badActivate.stderr).toContain('invalid value for --activate: "maybe"');
    expect(await owner.listTemplates()).toEqual([]);
  });

  it("uploads, waits for a daemon, prints the import logs and reports the active version", async () => {
    // No daemon yet: the CLI must wait on the pending job and print the logs once one runs it.
    const pushing = cli.run(["templates", "push", "docker", "-d", "my-docker", "-m", "first"]);
    const job = await daemon.take(15);
    expect(job?.type).toBe("template_version_import");
    await daemon.run(job!);
    const r = await pushing;
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("creating template docker");
    expect(r.stderr).toMatch(/Uploaded 2 files \(\d+\.\d KiB\)/);
    expect(r.stdout).toContain("init | extracting the template archive");
    expect(r.stdout).toContain("load | 3 parameters, 2 resources");
    expect(r.stdout.trim().split("\n").at(-1)).toBe("Template docker: version v1 imported and active.");

    const t = await owner.template("docker");
    const v1 = await owner.templateVersion("docker", "v1");
    expect(t.active_version_id).toBe(v1.id);
    expect(v1).toMatchObject({ message: "first", active: true, job: { status: "succeeded" } });
    expect(v1.parameters.map((p) => p.name)).toEqual(["cpus", "memory_mb", "dotfiles_uri"]);
    // What was uploaded is exactly the folder.
    const files = await fs.readdir(inHome("my-docker"));
    expect(files.sort()).toEqual(["README.md", "template.ts"]);
  });

  it("exits 1 with the import error, naming file and line, and leaves the active version alone", async () => {
    await fs.mkdir(inHome("broken"), { recursive: true });
    await fs.writeFile(
      inHome("broken", "template.ts"),
      `import { defineTemplate, docker } from "@outpost/template";\nexport default defineTemplate({\n  build() {\n    return [docker.container({ image: "x", cpus: "four" })];\n  },\n});\n`,
    );
    const r = await withDaemon(() => cli.run(["templates", "push", "docker", "-d", "broken", "--name", "broken-1"]));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: version broken-1 of template docker failed to import");
    expect(r.stderr).toMatch(/template\.ts:4:\d+: .*'string' is not assignable to type 'number'/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    const broken = await owner.templateVersion("docker", "broken-1");
    expect(broken).toMatchObject({ active: false, job: { status: "failed" } });
    expect((await owner.template("docker")).active_version_id).toBe((await owner.templateVersion("docker", "v1")).id);
  });

  it("--activate=false keeps the active version; versions activate, archive and unarchive", async () => {
    const r = await withDaemon(() => cli.run(["templates", "push", "docker", "-d", "my-docker", "--activate=false", "--name", "next", "-m", "try it"]));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Template docker: version next imported, not active.");
    expect(r.stderr).toContain("outpost templates versions activate docker next");
    expect((await owner.templateVersion("docker", "v1")).active).toBe(true);

    const list = await cli.run(["templates", "versions", "list", "docker", "-o", "json"]);
    expect(list.code).toBe(0);
    const versions = JSON.parse(list.stdout) as TemplateVersion[];
    expect(versions.map((v) => [v.name, v.job.status, v.active])).toEqual([
      ["next", "succeeded", false],
      ["broken-1", "failed", false],
      ["v1", "succeeded", true],
    ]);

    const activate = await cli.run(["templates", "versions", "activate", "docker", "next"]);
    expect(activate.code).toBe(0);
    expect(activate.stdout.trim()).toBe("Template docker: version next is now active.");
    expect((await owner.templateVersion("docker", "next")).active).toBe(true);
    const refused = await cli.run(["templates", "versions", "activate", "docker", "broken-1"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("version broken-1 cannot be activated: its import failed");

    const archive = await cli.run(["templates", "versions", "archive", "docker", "broken-1"]);
    expect(archive.code).toBe(0);
    expect(archive.stdout.trim()).toBe("Template docker: version broken-1 is archived.");
    const table = await cli.run(["templates", "versions", "list", "docker"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^NAME\s+IMPORT\s+ACTIVE\s+ARCHIVED\s+CREATED BY\s+CREATED\s+MESSAGE$/);
    expect(table.stdout).not.toContain("broken-1");
    expect(table.stdout).toMatch(/^next\s+succeeded\s+active\s+owner\s+\S+ ago\s+try it$/m);
    const all = await cli.run(["templates", "versions", "list", "docker", "--include-archived"]);
    expect(all.stdout).toMatch(/^broken-1\s+failed\s+archived\s+owner/m);
    const activeArchive = await cli.run(["templates", "versions", "archive", "docker", "next"]);
    expect(activeArchive.code).toBe(1);
    expect(activeArchive.stderr).toContain("version next is active");
    const unarchive = await cli.run(["templates", "versions", "unarchive", "docker", "broken-1"]);
    expect(unarchive.stdout.trim()).toBe("Template docker: version broken-1 is no longer archived.");
    expect((await owner.templateVersion("docker", "broken-1")).archived).toBe(false);
  });

  it("a member may not push: the server's refusal is printed", async () => {
    const other = await cliSandbox();
    try {
      await fs.cp(inHome("my-docker"), path.join(other.home, "tpl"), { recursive: true });
      const r = await other.run(["templates", "push", "docker", "-d", "tpl", "-y"], { env: { OUTPOST_URL: s.url, OUTPOST_SESSION_TOKEN: memberToken } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("error: you are not allowed to do this\n  only template admins may upload template archives");
    } finally {
      await other.cleanup();
    }
  });

  it("asks before creating a new template in a terminal", async () => {
    const no = await cli.runInTerminal(["templates", "push", "fresh", "-d", "my-docker"], [{ expect: "Template fresh does not exist. Create it? [Y/n]", send: "n" }]);
    expect(no.code).toBe(1);
    expect(no.stdout).toContain("Not pushed.");
    await expect(owner.template("fresh")).rejects.toMatchObject({ status: 404 });

    // Yes: the push shows that it waits for a daemon, then that the import runs.
    const pushing = cli.runInTerminal(["templates", "push", "fresh", "-d", "my-docker"], [{ expect: "Create it? [Y/n]", send: "y" }]);
    // The job is taken only after the CLI has had time to see it queued.
    for (let i = 0; i < 150 && !(await owner.templateVersions("fresh").catch(() => [])).length; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500));
    const job = await daemon.take(15);
    await daemon.run(job!);
    const yes = await pushing;
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain("… waiting for a provisioner daemon (queue position 1)");
    expect(yes.stdout).toContain("… running");
    expect(yes.stdout).toContain("Template fresh: version v1 imported and active.");
    expect((await owner.template("fresh")).active_version_id).not.toBeNull();
    expect((await cli.run(["templates", "delete", "fresh", "-y"])).code).toBe(0);
  });
});

describe("outpost templates list, show, delete, pull", () => {
  it("list and show print the active version, parameters and resources", async () => {
    const list = await cli.run(["templates", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^NAME\s+ACTIVE VERSION\s+WORKSPACES\s+UPDATED\s+DESCRIPTION$/m);
    expect(list.stdout).toMatch(/^docker\s+next\s+0\s+/m);
    const json = JSON.parse((await cli.run(["templates", "list", "-o", "json"])).stdout) as Template[];
    expect(json.map((t) => t.name)).toEqual(["docker"]);

    const show = await cli.run(["templates", "show", "docker"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^active version:\s+next \(try it\), pushed .* by owner$/m);
    expect(show.stdout).toMatch(/^workspaces:\s+0$/m);
    expect(show.stdout).toMatch(/^\s+cpus\s+whole number, 1 to 8\s+2\s+mutable\s+CPU cores the container may use/m);
    expect(show.stdout).toMatch(/^\s+dotfiles_uri\s+string, matching .*\s+""\s+-\s+Git repository/m);
    expect(show.stdout).toMatch(/^\s+docker_container\.main\s+main\s+2$/m);
    const showJson = JSON.parse((await cli.run(["templates", "show", "docker", "-o", "json"])).stdout) as { template: Template; active_version: TemplateVersion };
    expect(showJson.active_version.name).toBe("next");
    expect(showJson.template.name).toBe("docker");

    const missing = await cli.run(["templates", "show", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("error:");
    expect(missing.stderr).toContain("not found");
  });

  it("delete asks for confirmation (or -y) and removes the template", async () => {
    const refused = await cli.run(["templates", "delete", "docker"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("refusing to delete template docker without confirmation");
    const kept = await cli.runInTerminal(["templates", "delete", "docker"], [{ expect: "Delete template docker and all its versions? [y/N]", send: "" }]);
    expect(kept.code).toBe(1);
    expect((await owner.template("docker")).name).toBe("docker");
    const r = await cli.run(["templates", "delete", "docker", "-y"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("Deleted template docker.");
    await expect(owner.template("docker")).rejects.toMatchObject({ status: 404 });
  });
});
