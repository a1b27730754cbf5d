#!/usr/bin/env node
// N simulated workspace agents (the real protocol, all in this process) against one real `outpost
// server`: how long N agents take to connect, what the server holds for them (RSS) and what keeping
// them costs while they idle (CPU), at several N in one run, against the same server with no agent
// connected. Prints one JSON document (progress on stderr); exits 1 on a failed check. See bench/README.md.
//
//   node bench/agent-scale.mjs [--n 100,500,2000] [--concurrency 100] [--idle-seconds 30] [--create-concurrency 16]
//                              [--cpu-prof-dir DIR] [--keep]
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pushTemplate } from "./lib/agent-workspace.mjs";
import { startBenchDaemons, BENCH_TAGS } from "./lib/bench-daemon.mjs";
import { gitState, snapshotCli } from "./lib/cli-snapshot.mjs";
import { alive, apiClient, makeLog, median, now, percentile, round, sleep, startServer } from "./lib/outpost.mjs";
import { connectInspector, inspectorUrl } from "./lib/inspector.mjs";
import { cpuSeconds, loadavg, rssKb, treeFigures } from "./lib/proc.mjs";
import { loadProtocol, pool, SimAgent } from "./lib/sim-agent.mjs";

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i].includes("=") ? args[i].split("=")[1] : args[i + 1];
};
const NS = (option("--n") ?? "100,500,2000").split(",").map(Number);
const CONCURRENCY = Number(option("--concurrency") ?? 100);
// 30 s: one period of the server's agent heartbeat (AGENT_HEARTBEAT_MS), so every N pays the same periodic
// work once, and two keepalive periods (a PING round trip per agent each 15 s of silence).
const IDLE_SECONDS = Number(option("--idle-seconds") ?? 30);
const CREATE_CONCURRENCY = Number(option("--create-concurrency") ?? 16);
const DAEMONS = Number(option("--daemons") ?? 8);
const PROF_DIR = option("--cpu-prof-dir");
const KEEP = args.includes("--keep");
const MAX_N = Math.max(...NS);

const log = makeLog("bench-agent-scale");
const failures = [];
const mb = (kb) => round(kb / 1024);

function openFileLimit(pid) {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"));
  return m ? { soft: m[1] === "unlimited" ? Infinity : Number(m[1]), hard: m[2] } : undefined;
}

/** Agents of every workspace as the server reports them: how many are connected and ready. */
async function serverView(api) {
  let connected = 0;
  let ready = 0;
  let agents = 0;
  for (let offset = 0; ; offset += 1000) {
    const page = await api.get(`/api/v2/workspaces?owner=me&limit=1000&offset=${offset}`, { timeoutMs: 120_000 });
    for (const w of page.items) {
      for (const a of w.agents) {
        agents++;
        if (a.status === "connected") connected++;
        if (a.status === "connected" && a.lifecycle_state === "ready") ready++;
      }
    }
    if (page.items.length < 1000) break;
  }
  return { agents, connected, ready };
}

async function waitView(api, want, timeoutMs = 120_000) {
  const t0 = now();
  for (;;) {
    const v = await serverView(api);
    if (want(v)) return { ...v, ms: round(now() - t0) };
    if (now() - t0 > timeoutMs) return { ...v, ms: round(now() - t0), timedOut: true };
    await sleep(250);
  }
}

/**
 * Server and PostgreSQL figures over an idle window (nothing but the agents' own keepalives going on).
 * CPU is read before the forced garbage collection that precedes the memory figures after GC.
 */
async function idleWindow(server, inspector, seconds) {
  const pg = server.postmasterPid();
  const s0 = cpuSeconds(server.pid);
  const p0 = treeFigures(pg);
  const b0 = process.cpuUsage();
  const t0 = now();
  // RSS once a second: a Node heap grows and shrinks with its GC, one reading would be luck.
  const rss = [];
  for (let i = 1; i <= seconds; i++) {
    await sleep(Math.max(0, t0 + i * 1000 - now()));
    rss.push(rssKb(server.pid));
  }
  const wall = (now() - t0) / 1000;
  const s1 = cpuSeconds(server.pid);
  const p1 = treeFigures(pg);
  const b1 = process.cpuUsage(b0);
  const mem = await inspector.memoryAfterGc();
  return {
    server_rss_mb: mb(median(rss)),
    server_rss_max_mb: mb(Math.max(...rss)),
    server_rss_after_gc_mb: mb(rssKb(server.pid)),
    server_heap_used_after_gc_mb: round(mem.heapUsed / 1048576),
    server_external_after_gc_mb: round(mem.external / 1048576),
    idle_cpu_pct: round(((s1 - s0) / wall) * 100),
    postgres: { processes: p1.processes, rss_mb: mb(p1.rssKb), pss_mb: mb(p1.pssKb), idle_cpu_pct: round(((p1.cpuSeconds - p0.cpuSeconds) / wall) * 100) },
    bench_process_idle_cpu_pct: round(((b1.user + b1.system) / 1e6 / wall) * 100),
    window_s: round(wall),
  };
}

async function main() {
  const loadBefore = loadavg();
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-bench-scale-"));
  await fs.chmod(work, 0o755);
  log(`work dir ${work}; N = ${NS.join(", ")}, dial concurrency ${CONCURRENCY}, idle ${IDLE_SECONDS} s`);
  const result = { bench: "agent-scale", node: process.version, git: gitState(), params: { n: NS, concurrency: CONCURRENCY, idleSeconds: IDLE_SECONDS, createConcurrency: CREATE_CONCURRENCY, daemons: DAEMONS } };
  const ownLimit = openFileLimit(process.pid);
  if (ownLimit && ownLimit.soft < MAX_N + 256) throw new Error(`this process may open ${ownLimit.soft} files, fewer than ${MAX_N} agents need: run \`ulimit -n ${Math.max(65536, MAX_N * 2)}\` first`);
  let server;
  let daemons;
  let inspector;
  const agents = [];
  try {
    const cli = await snapshotCli(work, log);
    result.cli = { bundleBuiltAt: cli.bundleBuiltAt, rebuiltForThisRun: cli.rebuilt };
    const sdk = await loadProtocol(work);
    // The inspector on a free port: a forced GC before each memory reading, and CPU profiles on request.
    server = await startServer(work, { cli: cli.script, nodeArgs: ["--inspect=127.0.0.1:0"] });
    const url = inspectorUrl(server.output());
    if (!url) throw new Error(`no inspector URL in the server's output:\n${server.output().slice(-2000)}`);
    inspector = await connectInspector(url);
    if (PROF_DIR) await fs.mkdir(PROF_DIR, { recursive: true });
    const serverLimit = openFileLimit(server.pid);
    result.openFileLimits = { bench: ownLimit?.soft, server: serverLimit?.soft };
    if (serverLimit && serverLimit.soft < MAX_N + 512) failures.push(`the server may open only ${serverLimit.soft} files for ${MAX_N} agents: raise \`ulimit -n\``);
    log(`server ready in ${server.readyMs} ms at ${server.url} (pid ${server.pid})`);
    const api = apiClient(server.url);
    const password = "Timing-Runner-2024!x9";
    await api.post("/api/v2/users/first", { email: "bench@example.com", username: "bench", password });
    api.setToken((await api.post("/api/v2/users/login", { email: "bench@example.com", password })).session_token);

    // Tokens: the bench's own daemons build the tagged template (see bench/lib/bench-daemon.mjs).
    daemons = await startBenchDaemons(api, server.url, { count: DAEMONS });
    await pushTemplate(api, work, "scale", "// built by the bench daemons, never evaluated\n", { provisioner_tags: BENCH_TAGS });
    log(`creating ${MAX_N} workspaces (${CREATE_CONCURRENCY} requests at a time, ${DAEMONS} bench daemons)`);
    const c0 = now();
    await pool(MAX_N, CREATE_CONCURRENCY, (i) => api.post("/api/v2/users/me/workspaces", { name: `a${i}`, template: "scale" }));
    while (daemons.tokens.size < MAX_N) {
      if (now() - c0 > 30 * 60_000) throw new Error(`only ${daemons.tokens.size} of ${MAX_N} start builds done after 30 min (${daemons.lastError()?.message})`);
      await sleep(100);
    }
    result.workspaceCreation = { n: MAX_N, ms: round(now() - c0), perSecond: round(MAX_N / ((now() - c0) / 1000)) };
    log(`${MAX_N} workspaces built in ${result.workspaceCreation.ms} ms`);
    const drops = [];
    for (let i = 0; i < MAX_N; i++) {
      const token = daemons.tokens.get(`a${i}`);
      agents.push(new SimAgent(sdk, server.url, token, (why) => drops.push({ i, why, at: now() })));
    }

    await sleep(2000); // let the creation's trailing work (notifications, GC) settle
    log(`baseline: ${IDLE_SECONDS} s idle with no agent connected`);
    result.baseline = await idleWindow(server, inspector, IDLE_SECONDS);
    const base = result.baseline;
    result.profiles = PROF_DIR ? {} : undefined;

    // One agent at a time: the connect latency when nothing queues (the waves below measure throughput).
    const single = [];
    for (let i = 0; i < Math.min(20, MAX_N); i++) {
      single.push(await agents[i].connect());
      await agents[i].close();
    }
    const l0 = now();
    await serverView(api);
    result.unloaded = { connect_p50_ms: round(median(single)), connect_max_ms: round(Math.max(...single)), samples: single.length, server_view_list_ms: round(now() - l0) };
    await waitView(api, (v) => v.connected === 0);

    result.byN = {};
    for (const n of NS) {
      log(`N = ${n}: connecting, ${CONCURRENCY} dials at a time`);
      const cpu0 = cpuSeconds(server.pid);
      const pg0 = treeFigures(server.postmasterPid()).cpuSeconds;
      if (PROF_DIR) await inspector.startProfile();
      const t0 = now();
      const latencies = await pool(n, CONCURRENCY, (i) => agents[i].connect().catch((err) => ({ error: err.message })));
      const connectAllMs = now() - t0;
      if (PROF_DIR) result.profiles[`connect-${n}`] = await inspector.stopProfile(path.join(PROF_DIR, `server-connect-${n}.cpuprofile`));
      const errors = latencies.filter((l) => typeof l !== "number");
      if (errors.length) failures.push(`N=${n}: ${errors.length} agents failed to connect (first: ${errors[0].error})`);
      const ok = latencies.filter((l) => typeof l === "number");
      const connectCpu = cpuSeconds(server.pid) - cpu0;
      const connectPgCpu = treeFigures(server.postmasterPid()).cpuSeconds - pg0;
      const view = await waitView(api, (v) => v.ready >= n);
      if (view.timedOut) failures.push(`N=${n}: the server shows ${view.ready} ready agents of ${n}`);
      log(`N = ${n}: all hellos after ${round(connectAllMs)} ms; server shows ${view.ready} ready ${view.ms} ms later`);
      const dropsBefore = drops.length;
      if (PROF_DIR) await inspector.startProfile();
      const idle = await idleWindow(server, inspector, IDLE_SECONDS);
      if (PROF_DIR) result.profiles[`idle-${n}`] = await inspector.stopProfile(path.join(PROF_DIR, `server-idle-${n}.cpuprofile`));
      const after = await serverView(api);
      const disconnects = drops.length - dropsBefore;
      if (after.connected !== n) failures.push(`N=${n}: after the idle window the server shows ${after.connected} connected agents, expected ${n}`);
      result.byN[n] = {
        connect_all_ms: round(connectAllMs),
        connect_p50_ms: round(median(ok)),
        connect_p95_ms: round(percentile(ok, 95)),
        connect_max_ms: round(Math.max(...ok)),
        connect_server_cpu_ms_per_agent: round((connectCpu / n) * 1000),
        connect_postgres_cpu_ms_per_agent: round((connectPgCpu / n) * 1000),
        server_view_ready_after_ms: view.ms,
        ...idle,
        // After a forced GC on both sides: what the server keeps per connected agent.
        rss_per_agent_kb: round(((idle.server_rss_after_gc_mb - base.server_rss_after_gc_mb) * 1024) / n),
        heap_per_agent_kb: round(((idle.server_heap_used_after_gc_mb + idle.server_external_after_gc_mb - base.server_heap_used_after_gc_mb - base.server_external_after_gc_mb) * 1024) / n),
        disconnects,
        server_view_after_idle: after,
        connect_failures: errors.length,
      };
      log(`N = ${n}: server RSS ${idle.server_rss_mb} MB, idle CPU ${idle.idle_cpu_pct}% (postgres ${idle.postgres.idle_cpu_pct}%), ${disconnects} disconnects`);
      await pool(n, 200, (i) => agents[i].close());
      const gone = await waitView(api, (v) => v.connected === 0);
      if (gone.timedOut) failures.push(`N=${n}: ${gone.connected} agents still shown connected after closing them all`);
      await sleep(2000);
    }
  } finally {
    await pool(agents.length, 200, (i) => agents[i].close()).catch(() => undefined);
    await daemons?.stop();
    inspector?.close();
    if (server) {
      const pg = server.postmasterPid();
      const code = await server.stop();
      if (code !== 0) failures.push(`server exit ${code} after SIGTERM:\n${server.output().slice(-2000)}`);
      for (let i = 0; i < 100 && pg && alive(pg); i++) await sleep(20);
      if (pg && alive(pg)) failures.push(`PostgreSQL (pid ${pg}) still running after the server stopped`);
    }
    if (KEEP) log(`kept ${work}`);
    else await fs.rm(work, { recursive: true, force: true }).catch(() => {});
  }
  result.machine = { cores: os.cpus().length, loadavgBefore: loadBefore, loadavgAfter: loadavg() };
  result.checks = { ok: failures.length === 0, failures };
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  if (failures.length) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`bench-agent-scale: ${err.stack ?? err}\n`);
  process.exit(1);
});
