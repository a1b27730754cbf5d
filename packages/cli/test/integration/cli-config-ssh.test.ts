// `outpost config-ssh` through the real CLI, checked with the real OpenSSH client (`ssh -G` prints
// the configuration ssh would use for a host).
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestServer, setupOwner, type TestServer } from "../../../server/test/helpers/test-server.js";
import { cliSandbox, ensureCliBuilt, ROOT, type CliSandbox } from "../helpers/run-cli.js";

let s: TestServer;
let cli: CliSandbox;
let config: string;
const USER_CONFIG = "Host github.com\n  User git\n";

/** What OpenSSH would do for `host` with this config file. */
function effective(host: string): Record<string, string> {
  const out = execFileSync("ssh", ["-G", "-F", config, host], { encoding: "utf8" });
  return Object.fromEntries(out.split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]));
}

beforeAll(async () => {
  await ensureCliBuilt();
  s = await createTestServer({ listen: true });
  cli = await cliSandbox();
  const r = await cli.run(["login", s.url, "--token", await setupOwner(s)]);
  if (r.code !== 0) throw new Error(r.stderr);
  config = path.join(cli.home, ".ssh", "config");
  await fs.mkdir(path.dirname(config), { mode: 0o700 });
  await fs.writeFile(config, USER_CONFIG, { mode: 0o600 });
});
afterAll(async () => {
  await s?.close();
  await cli?.cleanup();
});

describe("outpost config-ssh", () => {
  it("refuses to change the file without confirmation when not in a terminal, and shows a dry run", async () => {
    const refused = await cli.run(["config-ssh"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("pass -y, or --dry-run");
    const dry = await cli.run(["config-ssh", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("+ Host outpost.*");
    expect(await fs.readFile(config, "utf8")).toBe(USER_CONFIG);
  });

  it("writes a block OpenSSH uses for outpost.* hosts only, idempotently, keeping the user's lines", async () => {
    const r = await cli.run(["config-ssh", "-y", "--control-master"]);
    expect(r.code, r.stderr).toBe(0);
    const text = await fs.readFile(config, "utf8");
    expect(text.startsWith(USER_CONFIG)).toBe(true);
    expect((await fs.stat(config)).mode & 0o777).toBe(0o600);
    const ws = effective("outpost.dev");
    expect(ws.proxycommand).toBe(`${process.execPath} ${path.join(ROOT, "packages/cli/dist/outpost.js")} ssh --stdio %h`);
    expect(ws.stricthostkeychecking).toBe("false");
    expect(ws.controlmaster).toBe("auto");
    expect(effective("github.com").proxycommand).toBeUndefined();
    expect(effective("github.com").user).toBe("git");

    const again = await cli.run(["config-ssh", "-y", "--control-master"]);
    expect(again.stdout).toContain("is up to date");
    expect(await fs.readFile(config, "utf8")).toBe(text);
  });

  it("rejects a malformed --ssh-option and removes the block with --remove", async () => {
    const bad = await cli.run(["config-ssh", "-y", "--ssh-option", "Bad\nInjected yes"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("invalid --ssh-option");
    const removed = await cli.run(["config-ssh", "--remove", "-y"]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(await fs.readFile(config, "utf8")).toBe(USER_CONFIG);
    expect(effective("outpost.dev").proxycommand).toBeUndefined();
  });
});
