// `outpost dotfiles REPO`, run inside a workspace: clone (or pull) the user's dotfiles and run their
// install script, like `coder dotfiles`. Shared by the CLI (`outpost dotfiles`) and the agent binary,
// which puts an `outpost` command on the PATH of everything it starts so the same line works in a
// container that has no Node.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";

export const DOTFILES_HELP = `Usage: outpost dotfiles REPO [options]

Run inside a workspace: clones your dotfiles repository (or pulls it when already cloned) into
~/.config/outpost/dotfiles and runs the first install script it finds (install.sh, install,
bootstrap.sh, bootstrap, script/bootstrap, setup.sh, setup, script/setup). Without one, the
repository's dotfiles (names starting with ".") are linked into your home directory. Safe to run
again: it updates the clone and runs the script again.

Options:
  --branch NAME           the branch to clone (default: the repository's default branch)
  --symlink-dir DIR       where dotfiles are linked when there is no install script (default: $HOME)`;

export const INSTALL_SCRIPTS = ["install.sh", "install", "bootstrap.sh", "bootstrap", "script/bootstrap", "setup.sh", "setup", "script/setup"];

/** A failure to report as `error: message` with hints; `exitCode` 2 for usage errors. */
export class DotfilesError extends Error {
  constructor(
    message: string,
    readonly hints: string[] = [],
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface DotfilesOptions {
  argv: string[];
  env: Record<string, string | undefined>;
  home: string;
  /** Where the clone goes: `<configDir>/dotfiles`. */
  configDir: string;
  out(line: string): void;
  err(line: string): void;
}

type Io = Pick<DotfilesOptions, "env" | "out" | "err">;

function run(io: Io, cmd: string, args: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...io.env, GIT_TERMINAL_PROMPT: "0" } as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.setEncoding("utf8").on("data", (d: string) => d.split("\n").filter(Boolean).forEach((l) => io.out(l)));
    child.stderr.setEncoding("utf8").on("data", (d: string) => d.split("\n").filter(Boolean).forEach((l) => io.err(l)));
    child.on("error", (err) => reject(new DotfilesError(`cannot run ${cmd}: ${err.message}`, cmd === "git" ? ["install git in the workspace image"] : [])));
    child.on("close", (code) => resolve(code ?? 1));
  });
}

async function output(io: Io, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn("git", args, { cwd, env: io.env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("error", () => resolve(""));
    child.on("close", () => resolve(out.trim()));
  });
}

/** Links each top-level dotfile of the repository into `target`, replacing earlier links, keeping real files. */
async function linkDotfiles(io: Io, repo: string, target: string): Promise<void> {
  for (const name of (await fs.readdir(repo)).filter((n) => n.startsWith(".") && n !== ".git")) {
    const dest = path.join(target, name);
    const existing = await fs.lstat(dest).catch(() => undefined);
    if (existing && !existing.isSymbolicLink()) {
      io.err(`skipping ${name}: ${dest} exists and is not a link (move it away to use the repository's)`);
      continue;
    }
    if (existing) await fs.unlink(dest);
    await fs.symlink(path.join(repo, name), dest);
    io.out(`linked ${dest} -> ${path.join(repo, name)}`);
  }
}

/** Returns the exit code; throws DotfilesError for what the user must fix. */
export async function runDotfiles(o: DotfilesOptions): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: o.argv,
      allowPositionals: true,
      options: { branch: { type: "string" }, "symlink-dir": { type: "string" }, yes: { type: "boolean", short: "y" }, help: { type: "boolean", short: "h" } },
    });
  } catch (err) {
    throw new DotfilesError((err as Error).message, ["see outpost dotfiles --help"], 2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    o.out(DOTFILES_HELP);
    return 0;
  }
  const url = positionals[0];
  if (!url || positionals.length > 1) throw new DotfilesError("usage: outpost dotfiles REPO", ["e.g. outpost dotfiles https://github.com/me/dotfiles"], 2);
  if (url.startsWith("-") || /[\s\0]/.test(url)) throw new DotfilesError(`invalid repository ${JSON.stringify(url)}`, [], 2);
  if (values.branch !== undefined && !/^[A-Za-z0-9._/-]+$/.test(values.branch)) throw new DotfilesError(`invalid --branch ${JSON.stringify(values.branch)}`, [], 2);
  const dir = path.join(o.configDir, "dotfiles");
  if (existsSync(path.join(dir, ".git"))) {
    const remote = await output(o, ["config", "--get", "remote.origin.url"], dir);
    if (remote !== url) throw new DotfilesError(`${dir} holds another repository (${remote || "no remote"})`, [`remove it to switch to ${url}`]);
    o.err(`==> updating ${dir}`);
    if ((await run(o, "git", ["pull", "--ff-only"], dir)) !== 0) throw new DotfilesError(`git pull failed in ${dir}`);
  } else {
    await fs.mkdir(path.dirname(dir), { recursive: true });
    o.err(`==> cloning ${url} into ${dir}`);
    const args = ["clone", "--depth", "1", ...(values.branch ? ["--branch", values.branch] : []), "--", url, dir];
    if ((await run(o, "git", args, path.dirname(dir))) !== 0) throw new DotfilesError(`cannot clone ${url}`, ["check the URL and that this workspace can reach it"]);
  }
  for (const script of INSTALL_SCRIPTS) {
    const file = path.join(dir, script);
    const st = await fs.stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    o.err(`==> running ${script}`);
    // Scripts without the executable bit run with sh, like coder dotfiles.
    const code = st.mode & 0o111 ? await run(o, file, [], dir) : await run(o, "sh", [file], dir);
    if (code !== 0) throw new DotfilesError(`${script} exited with code ${code}`);
    return 0;
  }
  const target = path.resolve(values["symlink-dir"] ?? o.home);
  o.err(`==> no install script; linking dotfiles into ${target}`);
  await fs.mkdir(target, { recursive: true });
  await linkDotfiles(o, dir, target);
  return 0;
}
