// `outpost dotfiles` through the real CLI with real git repositories (file:// URLs, no network).
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliSandbox, ensureCliBuilt, type CliSandbox } from "../helpers/run-cli.js";

let cli: CliSandbox;

async function repo(name: string, files: Record<string, { text: string; mode?: number }>): Promise<string> {
  const dir = path.join(cli.home, "repos", name);
  await fs.mkdir(dir, { recursive: true });
  for (const [f, { text, mode }] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await fs.writeFile(path.join(dir, f), text, { mode: mode ?? 0o644 });
  }
  const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: dir, stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git("add", ".");
  git("commit", "-q", "-m", "dotfiles");
  return `file://${dir}`;
}

beforeAll(async () => {
  await ensureCliBuilt();
  cli = await cliSandbox();
});
afterAll(async () => cli?.cleanup());

describe("outpost dotfiles", () => {
  it("clones and runs install.sh, and pulls and runs it again on the next call", async () => {
    const url = await repo("with-script", { "install.sh": { text: 'echo installed >> "$HOME/installs.log"\necho "ran from $(pwd)"\n', mode: 0o755 } });
    const first = await cli.run(["dotfiles", url]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("==> running install.sh");
    expect(first.stdout).toContain(`ran from ${path.join(cli.configDir, "dotfiles")}`);
    const second = await cli.run(["dotfiles", url]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain("==> updating");
    expect((await fs.readFile(path.join(cli.home, "installs.log"), "utf8")).trim().split("\n")).toEqual(["installed", "installed"]);
  });

  it("refuses another repository over an existing clone, and reports a failing script", async () => {
    const other = await repo("failing", { "bootstrap.sh": { text: "echo boom >&2\nexit 3\n" } });
    const r = await cli.run(["dotfiles", other]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("holds another repository");
    const fresh = await cliSandbox();
    try {
      const failed = await fresh.run(["dotfiles", other]);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain("boom");
      expect(failed.stderr).toContain("error: bootstrap.sh exited with code 3");
      const missing = await fresh.run(["dotfiles", `file://${path.join(cli.home, "repos", "nope")}`]);
      expect(missing.stderr).toContain("holds another repository");
    } finally {
      await fresh.cleanup();
    }
    const none = await cliSandbox();
    try {
      const missing = await none.run(["dotfiles", `file://${path.join(cli.home, "repos", "nope")}`]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("cannot clone");
    } finally {
      await none.cleanup();
    }
  });

  it("links dotfiles when there is no install script, keeping real files", async () => {
    const sandbox = await cliSandbox();
    try {
      await fs.writeFile(path.join(sandbox.home, ".vimrc"), "mine\n");
      const url = `file://${path.join(cli.home, "repos", "links")}`;
      const dir = path.join(cli.home, "repos", "links");
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, ".bashrc"), "alias ll='ls -l'\n");
      await fs.writeFile(path.join(dir, ".vimrc"), "theirs\n");
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "init", "-q", "-b", "main"], { cwd: dir });
      execFileSync("git", ["add", "."], { cwd: dir });
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "x"], { cwd: dir });
      const r = await sandbox.run(["dotfiles", url]);
      expect(r.code, r.stderr).toBe(0);
      expect(await fs.readlink(path.join(sandbox.home, ".bashrc"))).toBe(path.join(sandbox.configDir, "dotfiles", ".bashrc"));
      expect(await fs.readFile(path.join(sandbox.home, ".vimrc"), "utf8")).toBe("mine\n");
      expect(r.stderr).toContain("skipping .vimrc");
      const bad = await sandbox.run(["dotfiles", "--upload-pack=evil"]);
      expect(bad.code).toBe(2);
    } finally {
      await sandbox.cleanup();
    }
  });
});
