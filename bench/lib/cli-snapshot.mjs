// A private copy of the built CLI for one bench run. Other engineers' test runs rebuild
// packages/cli/dist while a bench runs (scripts/build.mjs empties it first), which would break a
// ProxyCommand or an agent in the middle of a measurement. The copy lives in the bench's temp dir with
// a `node_modules` symlink beside it, so the bundle still finds the npm packages and our workspace
// packages (the server reads its migrations through require.resolve("@outpost/server/package.json")).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { repoRoot, sleep } from "./outpost.mjs";

const DIST = path.join(repoRoot, "packages/cli/dist");
const BUNDLE = path.join(DIST, "outpost.js");
const LAUNCHER = path.join(repoRoot, "packages/cli/bin/outpost.mjs");
const SOURCES = ["packages/cli/src", "packages/sdk/src", "packages/server/src", "packages/provisioner/src", "packages/template/src", "packages/agent/src", "scripts/build.mjs"];

async function newestMtime(p) {
  const st = await fs.stat(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of await fs.readdir(p)) newest = Math.max(newest, await newestMtime(path.join(p, entry)));
  return newest;
}

/** Newest source file time and the bundle's, so the report can say which code it measured. */
export async function bundleAge() {
  const built = await fs.stat(BUNDLE).then((s) => s.mtimeMs, () => 0);
  let sources = 0;
  for (const s of SOURCES) sources = Math.max(sources, await newestMtime(path.join(repoRoot, s)));
  return { built, sources, fresh: built > 0 && built >= sources };
}

/** The same lock as packages/cli/test/helpers/run-cli.ts, so a bench build and a test build never overlap. */
async function withBuildLock(fn) {
  const lock = path.join(os.tmpdir(), `outpost-cli-build-${createHash("sha256").update(repoRoot).digest("hex").slice(0, 12)}.lock`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await fs.mkdir(lock);
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      const age = await fs.stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 120_000) await fs.rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for the CLI build lock ${lock}`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

/** Every `./x.js` / `./chunks/x.js` a bundle file imports exists (a copy taken mid-build would miss some). */
async function checkComplete(distDir) {
  const files = [path.join(distDir, "outpost.js"), ...(await fs.readdir(path.join(distDir, "chunks"))).filter((f) => f.endsWith(".js")).map((f) => path.join(distDir, "chunks", f))];
  for (const file of files) {
    const text = await fs.readFile(file, "utf8");
    for (const m of text.matchAll(/["'](\.\/(?:chunks\/)?[\w.-]+\.js)["']/g)) {
      if (!existsSync(path.resolve(path.dirname(file), m[1]))) return `${path.relative(distDir, file)} imports ${m[1]}, which is missing`;
    }
  }
  return undefined;
}

function run(args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code, out }));
  });
}

/**
 * Builds the CLI bundle when it is missing or older than its sources (under the shared lock), copies it to
 * `work/cli`, checks the copy is whole and runs. Resolves with the launcher path to use for everything
 * the bench starts (server, ProxyCommand, agents) and what was measured.
 */
export async function snapshotCli(work, log) {
  const dir = path.join(work, "cli");
  for (let attempt = 1; ; attempt++) {
    const info = await withBuildLock(async () => {
      const age = await bundleAge();
      if (!age.fresh) {
        log("the CLI bundle is missing or older than its sources: building it (scripts/build.mjs)");
        const b = spawnSync(process.execPath, [path.join(repoRoot, "scripts/build.mjs"), "--quiet"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
        if (b.status !== 0) throw new Error("scripts/build.mjs failed");
      }
      await fs.rm(dir, { recursive: true, force: true });
      await fs.mkdir(path.join(dir, "bin"), { recursive: true });
      await fs.cp(DIST, path.join(dir, "dist"), { recursive: true });
      await fs.copyFile(LAUNCHER, path.join(dir, "bin", "outpost.mjs"));
      return { builtAt: new Date((await fs.stat(path.join(dir, "dist", "outpost.js"))).mtimeMs).toISOString(), rebuilt: !age.fresh };
    });
    if (!existsSync(path.join(work, "node_modules"))) await fs.symlink(path.join(repoRoot, "node_modules"), path.join(work, "node_modules"));
    const script = path.join(dir, "bin", "outpost.mjs");
    const missing = await checkComplete(path.join(dir, "dist"));
    const version = missing ? undefined : await run([script, "--version"], process.env);
    if (!missing && version.code === 0) return { script, bundleBuiltAt: info.builtAt, rebuilt: info.rebuilt, version: version.out.trim() };
    if (attempt >= 3) throw new Error(`could not take a whole copy of the CLI bundle: ${missing ?? version.out}`);
    log(`the CLI copy is incomplete (${missing ?? version.out.trim()}); retrying`);
    await sleep(2000);
  }
}

/** The git commit measured, and whether the working tree had changes (other engineers' work in progress). */
export function gitState() {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).stdout.trim();
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no", "--", "packages", "scripts"], { cwd: repoRoot, encoding: "utf8" }).stdout;
  return { commit: head, modifiedFiles: dirty.split("\n").filter(Boolean).map((l) => l.slice(3)) };
}
