#!/usr/bin/env node
// SSH through Outpost (OpenSSH client -> `ProxyCommand outpost ssh --stdio` -> server relay -> agent
// tunnel -> the agent's SSH server) against a private OpenSSH sshd on 127.0.0.1, both measured in the
// same run with the same client: bulk throughput both ways, session setup (`ssh host true`) and
// keystroke echo round trip. Prints one JSON document (progress on stderr); exits 1 when something is
// wrong or left behind. See bench/README.md.
//
//   node bench/ssh.mjs [--mib 1024] [--runs 3] [--setup-runs 50] [--keystrokes 200] [--cpu-prof-dir DIR] [--keep]
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AGENT_TEMPLATE, configSsh, createAgentWorkspace, deleteWorkspace, pushTemplate } from "./lib/agent-workspace.mjs";
import { gitState, snapshotCli } from "./lib/cli-snapshot.mjs";
import { connectInspector, inspectorUrl } from "./lib/inspector.mjs";
import { alive, apiClient, makeLog, median, percentile, round, sleep, startServer, summary } from "./lib/outpost.mjs";
import { cpuSeconds, findProcess, loadavg, processesWithEnv, reapedChildrenCpuSeconds } from "./lib/proc.mjs";
import { checkTransfer, keystrokes, negotiated, nodeRun, proxyToBanner, setup, throughput } from "./lib/ssh-measure.mjs";
import { startSshd } from "./lib/sshd.mjs";

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return fallback;
  const v = args[i].includes("=") ? args[i].split("=")[1] : args[i + 1];
  return v === undefined ? fallback : Number(v);
};
const MIB = flag("--mib", 1024);
const RUNS = flag("--runs", 3);
const SETUP_RUNS = flag("--setup-runs", 50);
const KEYSTROKES = flag("--keystrokes", 200);
const KEYSTROKE_WARMUP = flag("--keystroke-warmup", 20);
const BREAKDOWN_RUNS = flag("--breakdown-runs", 10);
const KEEP = args.includes("--keep");
const PROF_DIR = (() => {
  const i = args.indexOf("--cpu-prof-dir");
  return i >= 0 ? args[i + 1] : undefined;
})();
const GOALS = { throughputRatio: 0.7, setupP50Ratio: 0.45, keystrokeAddedMs: 1 };

const log = makeLog("bench-ssh");
const failures = [];
const ratio = (a, b) => (a && b ? Math.round((a / b) * 100) / 100 : null);

/**
 * One transfer with the CPU it cost, per side: `client` is everything this bench's shell pipeline ran
 * (dd, ssh and, for Outpost, the ProxyCommand), read from this process's reaped-children CPU;
 * `sshd` the direct path's sshd with its session processes (cat, dd); `server` the Outpost server;
 * `agent` the agent with its session processes. Per process, so other work on the machine does not count.
 */
async function timedTransfer(t, direction, sides, proxyMarker) {
  const read = () => Object.fromEntries(Object.entries(sides).map(([k, f]) => [k, f()]));
  const before = read();
  const proxy = proxyMarker ? watchProcessCpu(proxyMarker) : undefined;
  const r = await throughput(t, direction, MIB);
  await sleep(300); // the session's processes exit and are reaped a moment after the client
  const after = read();
  const gib = MIB / 1024;
  const cpu = Object.fromEntries(Object.keys(sides).map((k) => [k, (after[k] - before[k]) / gib]));
  if (proxy) {
    // ssh does not wait for its ProxyCommand, so its CPU never reaches our reaped-children figure.
    cpu.proxyCommand = proxy.stop() / gib;
  }
  return { ...r, cpuSecondsPerGiB: cpu };
}

/**
 * CPU of the process whose command line contains `marker` (the ProxyCommand), read every 250 ms while
 * it runs; stop() gives the last reading (at most 250 ms of its work is missed at the end).
 */
function watchProcessCpu(marker) {
  let pid;
  let last = 0;
  const timer = setInterval(() => {
    try {
      pid ??= findProcess(marker);
      if (pid) last = cpuSeconds(pid);
    } catch {
      // exited
    }
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      return last;
    },
  };
}

function transferSummary(list) {
  const per = (key) => round(median(list.map((r) => r.cpuSecondsPerGiB[key])) * 100) / 100;
  const keys = Object.keys(list[0]?.cpuSecondsPerGiB ?? {});
  return {
    mibPerS: round(median(list.map((r) => r.mibPerS))),
    samplesMibPerS: list.map((r) => round(r.mibPerS)),
    cpuSecondsPerGiB: Object.fromEntries(keys.map((k) => [k, per(k)])),
  };
}

async function main() {
  const loadBefore = loadavg();
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-bench-ssh-"));
  await fs.chmod(work, 0o755); // the postgres user must reach the embedded cluster under it (root)
  log(`work dir ${work}; ${MIB} MiB x ${RUNS} runs, ${SETUP_RUNS} setups, ${KEYSTROKES} keystrokes per path`);
  const result = { bench: "ssh", node: process.version, git: gitState(), params: { mib: MIB, runs: RUNS, setupRuns: SETUP_RUNS, keystrokes: KEYSTROKES, keystrokeWarmup: KEYSTROKE_WARMUP } };
  let server;
  let sshd;
  let api;
  let workspace;
  let inspector;
  try {
    const cli = await snapshotCli(work, log);
    result.cli = { bundleBuiltAt: cli.bundleBuiltAt, rebuiltForThisRun: cli.rebuilt, version: cli.version };
    sshd = await startSshd(path.join(work, "sshd"));
    log(`sshd on 127.0.0.1:${sshd.port} (${sshd.banner})`);
    server = await startServer(work, { cli: cli.script, nodeArgs: PROF_DIR ? ["--inspect=127.0.0.1:0"] : [] });
    if (PROF_DIR) {
      // CPU profiles of the server during each Outpost transfer (they cost CPU: take throughput from runs without).
      inspector = await connectInspector(inspectorUrl(server.output()));
      await fs.mkdir(PROF_DIR, { recursive: true });
      result.profiles = {};
    }
    log(`server ready in ${server.readyMs} ms at ${server.url}`);
    api = apiClient(server.url);
    const password = "Timing-Runner-2024!x9";
    await api.post("/api/v2/users/first", { email: "bench@example.com", username: "bench", password });
    const token = (await api.post("/api/v2/users/login", { email: "bench@example.com", password })).session_token;
    api.setToken(token);
    await pushTemplate(api, work, "bench", AGENT_TEMPLATE);
    const created = await createAgentWorkspace(api, "bench", "bench");
    workspace = created.workspace;
    log(`workspace bench: agent ready ${created.readyMs} ms after the create request`);
    const ssh = await configSsh(cli.script, work, server.url, token);
    const agentProc = processesWithEnv("OUTPOST_WORKSPACE_ID", workspace.id).find((p) => / agent(\s|$)/.test(p.cmdline));
    if (!agentProc) throw new Error("cannot find the agent process of the workspace");

    const targets = {
      direct: { name: "direct", config: sshd.clientConfig, host: "direct", env: ssh.env },
      directAes: { name: "directAes", config: sshd.clientConfig, host: "direct-aes", env: ssh.env },
      outpost: { name: "outpost", config: ssh.sshConfig, host: "outpost.bench", env: ssh.env },
    };
    const withChildren = (pid) => () => cpuSeconds(pid) + reapedChildrenCpuSeconds(pid);
    const client = () => reapedChildrenCpuSeconds(process.pid);
    const sidesOf = (name) =>
      name === "outpost" ? { client, server: () => cpuSeconds(server.pid), agent: withChildren(agentProc.pid) } : { client, sshd: withChildren(sshd.pid) };
    for (const t of Object.values(targets)) await checkTransfer(t);
    result.negotiated = {};
    for (const [k, t] of Object.entries(targets)) result.negotiated[k] = await negotiated(t);
    log(`ciphers: ${Object.entries(result.negotiated).map(([k, v]) => `${k} ${v.serverToClient}`).join(", ")}`);

    // Interleaved (direct, direct-aes, outpost in turn), so a load spike from other work on the machine
    // hits every path alike.
    const transfers = { direct: { up: [], down: [] }, directAes: { up: [], down: [] }, outpost: { up: [], down: [] } };
    for (let r = 0; r < RUNS; r++) {
      for (const dir of ["up", "down"]) {
        for (const [k, t] of Object.entries(targets)) {
          if (inspector && k === "outpost") await inspector.startProfile();
          const x = await timedTransfer(t, dir, sidesOf(k), k === "outpost" ? "ssh --stdio outpost.bench" : undefined);
          if (inspector && k === "outpost") {
            const top = await inspector.stopProfile(path.join(PROF_DIR, `server-${dir}-${r + 1}.cpuprofile`));
            result.profiles[`${dir}-${r + 1}`] = { serverCpuSecondsPerGiB: round(x.cpuSecondsPerGiB.server * 100) / 100, top: top.slice(0, 8) };
          }
          transfers[k][dir].push(x);
          log(`run ${r + 1}/${RUNS} ${dir} ${k}: ${round(x.mibPerS)} MiB/s`);
        }
      }
    }

    log(`session setup: ${SETUP_RUNS} x ssh host true per path`);
    const setups = { direct: [], outpost: [] };
    for (let i = 0; i < 3; i++) for (const k of Object.keys(setups)) await setup(targets[k]); // warm caches
    for (let i = 0; i < SETUP_RUNS; i++) for (const k of Object.keys(setups)) setups[k].push(await setup(targets[k]));
    log(`setup p50: direct ${round(median(setups.direct))} ms, outpost ${round(median(setups.outpost))} ms`);

    log(`keystroke echo: ${KEYSTROKES} samples per path after ${KEYSTROKE_WARMUP} warm-up`);
    const keys = {};
    for (const k of ["direct", "outpost"]) keys[k] = await keystrokes(targets[k], { samples: KEYSTROKES, warmup: KEYSTROKE_WARMUP });
    log(`keystroke p50: direct ${median(keys.direct).toFixed(3)} ms, outpost ${median(keys.outpost).toFixed(3)} ms`);

    log("where a relayed setup goes");
    const nodeBare = [];
    const cliVersion = [];
    const banner = [];
    for (let i = 0; i < BREAKDOWN_RUNS; i++) {
      nodeBare.push(await nodeRun(["-e", "0"]));
      cliVersion.push(await nodeRun([cli.script, "--version"]));
      banner.push(await proxyToBanner(cli.script, "outpost.bench", ssh.env));
    }

    const out = {};
    for (const k of Object.keys(targets)) out[k] = { up: transferSummary(transfers[k].up), down: transferSummary(transfers[k].down), cipher: result.negotiated[k].serverToClient };
    for (const k of ["direct", "outpost"]) {
      out[k].setupMs = summary(setups[k]);
      out[k].keystrokeMs = { p50: round3(median(keys[k])), p95: round3(percentile(keys[k], 95)), min: round3(Math.min(...keys[k])), max: round3(Math.max(...keys[k])) };
    }
    const ratios = {
      up: ratio(out.outpost.up.mibPerS, out.direct.up.mibPerS),
      down: ratio(out.outpost.down.mibPerS, out.direct.down.mibPerS),
      setup_p50: ratio(out.outpost.setupMs.p50, out.direct.setupMs.p50),
      keystroke_added_ms: round3(out.outpost.keystrokeMs.p50 - out.direct.keystrokeMs.p50),
      // The same cipher on both paths (the agent offers only aes128-gcm@openssh.com).
      upSameCipher: ratio(out.outpost.up.mibPerS, out.directAes.up.mibPerS),
      downSameCipher: ratio(out.outpost.down.mibPerS, out.directAes.down.mibPerS),
    };
    Object.assign(result, {
      direct: out.direct,
      directAes: out.directAes,
      outpost: out.outpost,
      ratios,
      goals: {
        throughput: { want: `>= ${GOALS.throughputRatio}x direct sshd both ways`, up: ratios.up >= GOALS.throughputRatio, down: ratios.down >= GOALS.throughputRatio },
        setup: { want: `p50 <= ${GOALS.setupP50Ratio}x direct sshd`, met: ratios.setup_p50 <= GOALS.setupP50Ratio },
        keystroke: { want: `added p50 < ${GOALS.keystrokeAddedMs} ms`, met: ratios.keystroke_added_ms < GOALS.keystrokeAddedMs },
      },
      setupBreakdownMs: {
        nodeBare: round(median(nodeBare)),
        cliVersion: round(median(cliVersion)),
        // `outpost ssh --stdio` alone until the agent's SSH banner; the rest of an `ssh host true` is the
        // SSH handshake, auth and exec through the tunnel, and the client's own start.
        proxyToAgentBanner: round(median(banner)),
        sshHandshakeAndExecAfterBanner: round(out.outpost.setupMs.p50 - median(banner)),
      },
      workspaceReadyMs: created.readyMs,
      serverReadyMs: server.readyMs,
    });
    result.goals.allMet = result.goals.throughput.up && result.goals.throughput.down && result.goals.setup.met && result.goals.keystroke.met;
  } finally {
    inspector?.close();
    if (workspace) {
      const del = await deleteWorkspace(api, workspace).catch((err) => ({ status: "error", error: err.message, leftProcesses: [] }));
      if (del.status !== "succeeded") failures.push(`delete build ${del.status}: ${del.error}`);
      if (del.leftProcesses.length) failures.push(`workspace processes left after delete: ${JSON.stringify(del.leftProcesses)}`);
    }
    if (server) {
      const pg = server.postmasterPid();
      const code = await server.stop();
      if (code !== 0) failures.push(`server exit ${code} after SIGTERM:\n${server.output().slice(-2000)}`);
      for (let i = 0; i < 100 && pg && alive(pg); i++) await sleep(20);
      if (pg && alive(pg)) failures.push(`PostgreSQL (pid ${pg}) still running after the server stopped`);
    }
    if (sshd) {
      await sshd.stop();
      if (alive(sshd.pid)) failures.push(`sshd (pid ${sshd.pid}) still running`);
    }
    if (KEEP) log(`kept ${work}`);
    else await fs.rm(work, { recursive: true, force: true }).catch(() => {});
  }
  result.machine = { cores: os.cpus().length, loadavgBefore: loadBefore, loadavgAfter: loadavg() };
  result.checks = { cleanedUp: failures.length === 0, failures };
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  if (failures.length) process.exitCode = 1;
}

function round3(x) {
  return x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 1000) / 1000;
}

main().catch((err) => {
  process.stderr.write(`bench-ssh: ${err.stack ?? err}\n`);
  process.exit(1);
});
