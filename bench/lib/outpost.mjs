// Shared helpers for the benches that need a running `outpost server`: statistics, a fresh server in a
// temp dir (started, waited for, stopped with SIGTERM and checked), and a tiny REST client on fetch.
// Plain .mjs on purpose: the benches run with `node` and no build step.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const cliPath = path.join(repoRoot, "packages/cli/bin/outpost.mjs");

/** Monotonic milliseconds (for durations). */
export const now = () => Number(process.hrtime.bigint()) / 1e6;
/** Wall-clock epoch milliseconds with sub-millisecond resolution (comparable with server and Docker timestamps). */
export const wallNow = () => performance.timeOrigin + performance.now();
export const round = (ms) => (ms === undefined || ms === null || Number.isNaN(ms) ? null : Math.round(ms * 10) / 10);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function median(xs) {
  const s = xs.filter((x) => typeof x === "number" && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (p95 of 5 samples is the largest one). */
export function percentile(xs, p) {
  const s = xs.filter((x) => typeof x === "number" && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export const summary = (xs) => ({ p50: round(median(xs)), p95: round(percentile(xs, 95)), min: round(Math.min(...xs)), max: round(Math.max(...xs)) });

export function makeLog(prefix = "bench") {
  const started = now();
  return (line) => process.stderr.write(`${prefix}: [${((now() - started) / 1000).toFixed(1)} s] ${line}\n`);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Environment for the server: ours minus every OUTPOST_* (an unknown one would stop it) plus the given ones. */
export function serverEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OUTPOST_")));
  return { ...env, ...extra };
}

function waitExit(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/**
 * Starts `outpost server` on a free port with its data dir (and the embedded PostgreSQL root, so nothing
 * lands in /var/lib/outpost as root) under `work`, which must be world-searchable. Resolves once it printed
 * "Press Ctrl-C to stop." and /healthz answers 200. `extraEnv` adds OUTPOST_* settings; `cli` runs another
 * copy of the CLI launcher (bench/lib/cli-snapshot.mjs); `nodeArgs` go before it (e.g. --cpu-prof).
 */
export async function startServer(work, { extraEnv = {}, timeoutMs = 120_000, cli = cliPath, nodeArgs = [] } = {}) {
  const port = await freePort();
  const dataDir = path.join(work, "data");
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const env = serverEnv({
    OUTPOST_HTTP_ADDRESS: `127.0.0.1:${port}`,
    OUTPOST_DATA_DIR: dataDir,
    OUTPOST_EMBEDDED_PG_ROOT: path.join(work, "pg-root"),
    OUTPOST_LOG_LEVEL: "warn",
    ...extraEnv,
  });
  const t0 = now();
  const child = spawn(process.execPath, [...nodeArgs, cli, "server"], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let ready = false;
  const onData = (chunk) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
    if (output.includes("Press Ctrl-C to stop.")) ready = true;
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output.slice(-3000)}`);
    if (now() - t0 > timeoutMs) {
      child.kill("SIGKILL");
      throw new Error(`server not ready within ${timeoutMs} ms:\n${output.slice(-3000)}`);
    }
    if (ready) {
      const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
        async (r) => (await r.arrayBuffer(), r.status === 200),
        () => false,
      );
      if (ok) break;
    }
    await sleep(20);
  }
  return {
    url,
    dataDir,
    /** The server's process (Node; PostgreSQL runs in its own processes, see postmasterPid()). */
    pid: child.pid,
    readyMs: round(now() - t0),
    output: () => output,
    /** SIGTERM, wait for exit; resolves with the exit code (or "timeout" after killing it). */
    async stop(graceMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode;
      child.kill("SIGTERM");
      let timer;
      const grace = new Promise((r) => (timer = setTimeout(r, graceMs)));
      // The grace timer is cleared, or it would keep the bench alive for graceMs after the server exits.
      const exit = await Promise.race([waitExit(child), grace.then(() => undefined)]).finally(() => clearTimeout(timer));
      if (!exit) {
        child.kill("SIGKILL");
        await waitExit(child);
        return "timeout";
      }
      return exit.code ?? exit.signal;
    },
    /** The PostgreSQL postmaster pid the server ran (read before stopping, to check it is gone after). */
    postmasterPid() {
      const pointer = path.join(dataDir, "postgres-location");
      const base = existsSync(pointer) ? readFileSync(pointer, "utf8").trim() : path.join(dataDir, "postgres");
      try {
        return Number(readFileSync(path.join(base, "data", "postmaster.pid"), "utf8").split("\n")[0]);
      } catch {
        return undefined;
      }
    },
  };
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/** A minimal Outpost REST client: JSON in and out, session header, errors carry the status and body. */
export function apiClient(baseUrl) {
  let token;
  async function call(method, url, { body, raw, contentType, timeoutMs = 60_000 } = {}) {
    const headers = {};
    if (token) headers["Outpost-Session-Token"] = token;
    let payload;
    if (raw) {
      payload = raw;
      headers["content-type"] = contentType ?? "application/octet-stream";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = "application/json";
    }
    const res = await fetch(baseUrl + url, { method, headers, body: payload, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    const data = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      const err = new Error(`${method} ${url}: ${res.status} ${data?.message ?? text.slice(0, 500)}`);
      err.status = res.status;
      err.body = data;
      throw err;
    }
    return data;
  }
  return {
    call,
    setToken: (t) => (token = t),
    get: (url, opts) => call("GET", url, opts),
    post: (url, body, opts) => call("POST", url, { ...opts, body }),
  };
}

const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

/**
 * Waits for a provisioner job through a logs endpoint's long-poll (`?wait=25&after=N`): it answers as
 * soon as new log lines arrive or the job completes, so the end is seen within one round trip.
 * `logsUrl` is e.g. /api/v2/workspacebuilds/ID/logs. Resolves with the final job and every log line.
 */
export async function waitForJob(api, logsUrl, timeoutMs = 300_000) {
  const t0 = now();
  let after = 0;
  const logs = [];
  for (;;) {
    const r = await api.get(`${logsUrl}?wait=25&after=${after}`, { timeoutMs: 40_000 });
    for (const l of r.logs) {
      logs.push(l);
      after = Math.max(after, l.id);
    }
    if (r.job.completed_at || TERMINAL.has(r.job.status)) return { job: r.job, logs, seenAt: wallNow() };
    if (now() - t0 > timeoutMs) throw new Error(`job ${r.job.id} not done within ${timeoutMs} ms (status ${r.job.status})`);
  }
}
