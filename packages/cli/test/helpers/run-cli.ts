import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const LAUNCHER = path.join(ROOT, "packages/cli/bin/outpost.mjs");
const BUNDLE = path.join(ROOT, "packages/cli/dist/outpost.js");
const SOURCES = ["packages/cli/src", "packages/sdk/src", "packages/server/src", "packages/provisioner/src", "packages/template/src", "packages/agent/src", "scripts/build.mjs"].map((p) => path.join(ROOT, p));

async function newestMtime(p: string): Promise<number> {
  const st = await fs.stat(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of await fs.readdir(p)) newest = Math.max(newest, await newestMtime(path.join(p, entry)));
  return newest;
}

async function bundleIsFresh(): Promise<boolean> {
  const built = await fs.stat(BUNDLE).then((s) => s.mtimeMs, () => 0);
  if (!built) return false;
  for (const src of SOURCES) if ((await newestMtime(src)) > built) return false;
  return true;
}

function runNode(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(" ")} exited with ${code}`))));
  });
}

/**
 * Builds the CLI bundle when it is missing or older than its sources. Test files run in parallel
 * workers and the build script empties dist/ first, so builds are serialised with a lock directory:
 * the first file builds, the others wait and then find the bundle fresh.
 */
export async function ensureCliBuilt(): Promise<void> {
  const lock = path.join(os.tmpdir(), `outpost-cli-build-${createHash("sha256").update(ROOT).digest("hex").slice(0, 12)}.lock`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await fs.mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = await fs.stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 120_000) await fs.rm(lock, { recursive: true, force: true }); // left by a killed run
      if (Date.now() > deadline) throw new Error(`timed out waiting for the CLI build lock ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!(await bundleIsFresh())) await runNode([path.join(ROOT, "scripts/build.mjs"), "--quiet"]);
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliSandbox {
  /** A fresh HOME and OUTPOST_CONFIG_DIR for one simulated user of the CLI. */
  home: string;
  configDir: string;
  sessionFile: string;
  /** Runs `outpost ARGS...` as a child process; env adds to (never inherits) OUTPOST_* variables. */
  run(args: string[], opts?: { env?: Record<string, string>; stdin?: string }): Promise<CliResult>;
  /**
   * Runs `outpost ARGS...` on a pseudo-terminal (util-linux `script`), so the CLI sees an interactive
   * session: each step waits until the output contains `expect`, then types `send` and Enter.
   * The output is what a terminal would show (prompts, echo, CRLF line ends).
   */
  runInTerminal(args: string[], steps: { expect: string; send: string }[], opts?: { env?: Record<string, string> }): Promise<CliResult>;
  cleanup(): Promise<void>;
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The child gets the parent's PATH and the like, but no OUTPOST_* variable from the parent, and its
 * own HOME and config dir. It runs asynchronously: the test server lives in this process and must keep
 * answering while the CLI waits on it.
 */
export async function cliSandbox(): Promise<CliSandbox> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-cli-test-"));
  const configDir = path.join(home, "config", "outpost");
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("OUTPOST_") && k !== "NODE_OPTIONS") base[k] = v;
  return {
    home,
    configDir,
    sessionFile: path.join(configDir, "session.json"),
    run: (args, opts = {}) =>
      new Promise<CliResult>((resolve, reject) => {
        const child = spawn(process.execPath, [LAUNCHER, ...args], {
          cwd: home,
          env: { ...base, HOME: home, OUTPOST_CONFIG_DIR: configDir, NO_COLOR: "1", ...opts.env },
          stdio: ["pipe", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
        child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), 25_000);
        child.on("error", reject);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
        child.stdin.end(opts.stdin ?? "");
      }),
    runInTerminal: (args, steps, opts = {}) =>
      new Promise<CliResult>((resolve, reject) => {
        const command = [process.execPath, LAUNCHER, ...args].map(shellQuote).join(" ");
        const child = spawn("script", ["-qec", command, "/dev/null"], {
          cwd: home,
          env: { ...base, HOME: home, OUTPOST_CONFIG_DIR: configDir, NO_COLOR: "1", ...opts.env },
          stdio: ["pipe", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        let next = 0;
        let seenUpTo = 0;
        const feed = () => {
          while (next < steps.length) {
            const at = stdout.indexOf(steps[next]!.expect, seenUpTo);
            if (at < 0) return;
            seenUpTo = at + steps[next]!.expect.length;
            child.stdin.write(steps[next]!.send + "\r");
            next++;
          }
        };
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          stdout += d;
          feed();
        });
        child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), 25_000);
        child.on("error", reject);
        child.on("close", (code) => {
          clearTimeout(timer);
          child.stdin.destroy();
          resolve({ code, stdout, stderr });
        });
      }),
    cleanup: () => fs.rm(home, { recursive: true, force: true }),
  };
}

/** A stack trace line, which must never reach a user's terminal. */
export const STACK_TRACE = /^\s+at .+[(:]\d+/m;
