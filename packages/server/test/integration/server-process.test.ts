import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/test-db.js";

const root = path.resolve(import.meta.dirname, "../../../..");
const cli = path.join(root, "packages/cli/bin/outpost.mjs");

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
}

const started: ChildProcess[] = [];

/** Starts the real CLI `outpost server` and waits for /healthz. */
async function startServer(env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, "server"], {
    env: { PATH: process.env.PATH, HOME: os.tmpdir(), OUTPOST_HTTP_ADDRESS: `127.0.0.1:${port}`, OUTPOST_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${err}`);
    // Ready once it says so (after its built-in daemons started) and answers.
    const ok = out.includes("Press Ctrl-C to stop.") && (await fetch(`${url}/healthz`).then((r) => r.ok, () => false));
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`server did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url, stdout: () => out, stderr: () => err };
}

function stop(r: Running, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  return new Promise((resolve) => {
    if (r.child.exitCode !== null) return resolve(r.child.exitCode);
    r.child.once("exit", (code) => resolve(code));
    r.child.kill(signal);
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const FIRST = { email: "first@example.com", username: "first", password: "Kettle-drum-93" };

let work: string;
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-server-proc-"));
  // Like /var/lib: searchable by the postgres user, unlike the 0700 "home" made below.
  await fs.chmod(work, 0o755);
});
afterAll(async () => {
  // A failed assertion must not leave a server (and its PostgreSQL) running after the suite.
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  await Promise.all(started.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
  await fs.rm(work, { recursive: true, force: true });
});

describe("outpost server as a process", () => {
  it("runs embedded PostgreSQL from a data dir the postgres user cannot enter, reuses it, and shuts it down cleanly", async () => {
    // Like ~/.outpost under /root (0700): as root the cluster must live elsewhere.
    const home = path.join(work, "home");
    await fs.mkdir(home, { mode: 0o700 });
    const dataDir = path.join(home, ".outpost");
    const env = { OUTPOST_DATA_DIR: dataDir, OUTPOST_EMBEDDED_PG_ROOT: path.join(work, "pg-root") };

    const first = await startServer(env);
    expect(first.stdout()).toContain(`Outpost is running at ${first.url}`);
    expect(first.stdout()).toContain("npx outpost login");
    const created = await fetch(`${first.url}/api/v2/users/first`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(FIRST) });
    expect(created.status).toBe(201);
    const pidFile = await findPostmasterPid(dataDir, env.OUTPOST_EMBEDDED_PG_ROOT);
    const pgPid = Number((await fs.readFile(pidFile, "utf8")).split("\n")[0]);
    expect(pidAlive(pgPid)).toBe(true);
    expect(await stop(first)).toBe(0);
    expect(first.stderr()).toContain("==> stopped");
    // A clean shutdown removes postmaster.pid and leaves no PostgreSQL behind.
    expect(pidAlive(pgPid)).toBe(false);
    await expect(fs.access(pidFile)).rejects.toThrow();

    const second = await startServer(env);
    const status = await fetch(`${second.url}/api/v2/users/first`).then((r) => r.json());
    expect(status).toEqual({ setup_done: true });
    const login = await fetch(`${second.url}/api/v2/users/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: FIRST.email, password: FIRST.password }) });
    expect(login.status).toBe(201);
    expect(await stop(second, "SIGINT")).toBe(0);
  });

  it("a SIGTERM while it is still starting (PostgreSQL up, daemons not yet) still shuts PostgreSQL down", async () => {
    const dataDir = path.join(work, "early");
    const env = { OUTPOST_DATA_DIR: dataDir, OUTPOST_EMBEDDED_PG_ROOT: path.join(work, "pg-root-early") };
    const port = await freePort();
    const child = spawn(process.execPath, [cli, "server"], {
      env: { PATH: process.env.PATH, HOME: os.tmpdir(), OUTPOST_HTTP_ADDRESS: `127.0.0.1:${port}`, OUTPOST_LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.push(child);
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    // As soon as PostgreSQL has written its pid file: the server is mid-start.
    let pidFile: string | undefined;
    for (let i = 0; i < 600 && !pidFile; i++) {
      const candidate = await findPostmasterPid(dataDir, env.OUTPOST_EMBEDDED_PG_ROOT).catch(() => undefined);
      pidFile = candidate && (await fs.access(candidate).then(() => candidate, () => undefined));
      if (!pidFile) await new Promise((r) => setTimeout(r, 50));
    }
    expect(pidFile, err).toBeDefined();
    const pgPid = Number((await fs.readFile(pidFile!, "utf8")).split("\n")[0]);
    const code = await new Promise<number | null>((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
    expect(code, err).toBe(0);
    expect(pidAlive(pgPid)).toBe(false);
    await expect(fs.access(pidFile!)).rejects.toThrow();
  });

  it("uses an external PostgreSQL from OUTPOST_PG_CONNECTION_URL and migrates it at start", async () => {
    const database = await createTestDatabase();
    try {
      // An empty database, as a new external PostgreSQL would be.
      await database.db.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
      const server = await startServer({ OUTPOST_PG_CONNECTION_URL: database.url, OUTPOST_DATA_DIR: path.join(work, "unused") });
      const { rows } = await database.db.query("SELECT name FROM schema_migrations ORDER BY version");
      expect(rows.map((r) => r.name)).toContain("0001_create_users");
      expect(await fetch(`${server.url}/api/v2/users/first`).then((r) => r.json())).toEqual({ setup_done: false });
      expect(await stop(server)).toBe(0);
      await expect(fs.access(path.join(work, "unused", "postgres"))).rejects.toThrow();
    } finally {
      await database.drop();
    }
  });

  it("refuses an unknown or malformed option, naming it", async () => {
    const run = (env: Record<string, string>, args: string[] = []) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(process.execPath, [cli, "server", ...args], { env: { PATH: process.env.PATH, HOME: work, ...env }, stdio: ["ignore", "pipe", "pipe"] });
        let err = "";
        child.stderr.on("data", (d) => (err += d));
        child.on("exit", (code) => resolve({ code, err }));
      });
    const typo = await run({ OUTPOST_HTTP_ADRESS: "127.0.0.1:1" });
    expect(typo.code).toBe(2);
    expect(typo.err).toContain("unknown option OUTPOST_HTTP_ADRESS (did you mean OUTPOST_HTTP_ADDRESS?)");
    const bad = await run({}, ["--session-duration", "forever"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("OUTPOST_SESSION_DURATION (--session-duration)");
    expect(bad.err).not.toMatch(/\n\s+at /);
  });
});

async function findPostmasterPid(dataDir: string, pgRoot: string): Promise<string> {
  const inside = path.join(dataDir, "postgres", "data", "postmaster.pid");
  if (await fs.access(inside).then(() => true, () => false)) return inside;
  const location = (await fs.readFile(path.join(dataDir, "postgres-location"), "utf8")).trim();
  expect(location.startsWith(pgRoot)).toBe(true);
  return path.join(location, "data", "postmaster.pid");
}
