import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { configDir } from "../config-store.js";
import { CliError, type CliContext } from "../context.js";

const HELP = `Usage: outpost dotfiles REPO [options]

Run inside a workspace: clones your dotfiles repository (or pulls it when already cloned) into
~/.config/outpost/dotfiles and runs the first install script it finds (install.sh, install,
bootstrap.sh, bootstrap, script/bootstrap, setup.sh, setup, script/setup). Without one, the
repository's dotfiles (names starting with ".") are linked into your home directory. Safe to run
again: it updates the clone and runs the script again.

Options:
  --branch NAME           the branch to clone (default: the repository's default branch)
  --symlink-dir DIR       where dotfiles are linked when there is no install script (default: $HOME)`;

export const INSTALL_SCRIPTS = ["install.sh", "install", "bootstrap.sh", "bootstrap", "script/bootstrap", "setup.sh", "setup", "script/setup"];

function run(ctx: CliContext, cmd: string, args: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...ctx.env, GIT_TERMINAL_PROMPT: "0" } as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.setEncoding("utf8").on("data", (d: string) => d.split("\n").filter(Boolean).forEach((l) => ctx.io.out(l)));
    child.stderr.setEncoding("utf8").on("data", (d: string) => d.split("\n").filter(Boolean).forEach((l) => ctx.io.err(l)));
    child.on("error", (err) => reject(new CliError(`cannot run ${cmd}: ${err.message}`, cmd === "git" ? ["install git in the workspace image"] : [])));
    child.on("close", (code) => resolve(code ?? 1));
  });
}

async function output(ctx: CliContext, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn("git", args, { cwd, env: ctx.env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("error", () => resolve(""));
    child.on("close", () => resolve(out.trim()));
  });
}

/** Links each top-level dotfile of the repository into `target`, replacing earlier links, keeping real files. */
async function linkDotfiles(ctx: CliContext, repo: string, target: string): Promise<void> {
  for (const name of (await fs.readdir(repo)).filter((n) => n.startsWith(".") && n !== ".git")) {
    const dest = path.join(target, name);
    const existing = await fs.lstat(dest).catch(() => undefined);
    if (existing && !existing.isSymbolicLink()) {
      ctx.io.err(`skipping ${name}: ${dest} exists and is not a link (move it away to use the repository's)`);
      continue;
    }
    if (existing) await fs.unlink(dest);
    await fs.symlink(path.join(repo, name), dest);
    ctx.io.out(`linked ${dest} -> ${path.join(repo, name)}`);
  }
}

export async function runDotfiles(ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: ctx.argv,
    allowPositionals: true,
    options: { branch: { type: "string" }, "symlink-dir": { type: "string" }, yes: { type: "boolean", short: "y" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    ctx.io.out(HELP);
    return 0;
  }
  const url = positionals[0];
  if (!url || positionals.length > 1) throw new CliError("usage: outpost dotfiles REPO", ["e.g. outpost dotfiles https://github.com/me/dotfiles"], 2);
  if (url.startsWith("-") || /[\s\0]/.test(url)) throw new CliError(`invalid repository ${JSON.stringify(url)}`, [], 2);
  if (values.branch !== undefined && !/^[A-Za-z0-9._\/-]+$/.test(values.branch)) throw new CliError(`invalid --branch ${JSON.stringify(values.branch)}`, [], 2);
  const dir = path.join(configDir(ctx), "dotfiles");
  if (existsSync(path.join(dir, ".git"))) {
    const remote = await output(ctx, ["config", "--get", "remote.origin.url"], dir);
    if (remote !== url) throw new CliError(`${dir} holds another repository (${remote || "no remote"})`, [`remove it to switch to ${url}`]);
    ctx.io.err(`==> updating ${dir}`);
    if ((await run(ctx, "git", ["pull", "--ff-only"], dir)) !== 0) throw new CliError(`git pull failed in ${dir}`);
  } else {
    await fs.mkdir(path.dirname(dir), { recursive: true });
    ctx.io.err(`==> cloning ${url} into ${dir}`);
    const args = ["clone", "--depth", "1", ...(values.branch ? ["--branch", values.branch] : []), "--", url, dir];
    if ((await run(ctx, "git", args, path.dirname(dir))) !== 0) throw new CliError(`cannot clone ${url}`, ["check the URL and that this workspace can reach it"]);
  }
  for (const script of INSTALL_SCRIPTS) {
    const file = path.join(dir, script);
    const st = await fs.stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    ctx.io.err(`==> running ${script}`);
    // Scripts without the executable bit run with sh, like coder dotfiles.
    const code = st.mode & 0o111 ? await run(ctx, file, [], dir) : await run(ctx, "sh", [file], dir);
    if (code !== 0) throw new CliError(`${script} exited with code ${code}`);
    return 0;
  }
  const target = path.resolve(values["symlink-dir"] ?? ctx.home);
  ctx.io.err(`==> no install script; linking dotfiles into ${target}`);
  await fs.mkdir(target, { recursive: true });
  await linkDotfiles(ctx, dir, target);
  return 0;
}

export { runDotfiles as run };
