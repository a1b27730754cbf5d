#!/usr/bin/env node
// Workspace lifecycle latency on Docker: a fresh `outpost server` with its built-in provisioner daemons,
// the `docker` starter pushed, then N workspaces each created (POST -> start build succeeded), stopped
// and started again, against the same engine work done raw in the same run (`docker volume create` +
// `docker run -d`, `docker rm -f`, `docker run -d` again; and the same through the Engine API, without
// the CLI's own start-up). `docker events` and the builds' stage timings show where Outpost's extra time
// goes. Prints one JSON document; exits 1 when something misbehaves or is left behind.
// See bench/README.md.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { docker, engine, recordEvents } from "./lib/docker.mjs";
import { timeTemplateEval } from "./lib/template-eval.mjs";
import { alive, apiClient, makeLog, median, now, repoRoot, round, sleep, startServer, summary, waitForJob, wallNow } from "./lib/outpost.mjs";

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return fallback;
  const v = args[i].includes("=") ? args[i].split("=")[1] : args[i + 1];
  return v === undefined ? fallback : Number(v);
};
const N = flag("--n", 5);
const WARMUP = flag("--warmup", 1);
const DAEMONS = flag("--daemons", undefined);
const KEEP = args.includes("--keep");
const GOAL_OVERHEAD_MS = 300;
const IMAGE = "outpost/base";
const CPUS = 1;
const MEMORY_MB = 512;
const PHASES = ["create", "stop", "start"];

const isRoot = process.getuid?.() === 0;
const log = makeLog("bench");
const failures = [];
const runId = Math.random().toString(36).slice(2, 8);
const RAW_LABEL = "outpost-bench";
/** Workspaces not deleted yet, and every workspace this run created (to check nothing of theirs is left). */
const workspaces = [];
const workspaceIds = [];
let server;

// ---------- raw baselines ----------

const rawName = (kind, i) => `outpost-bench-${runId}-${kind}-${i}`;

/** The container `docker run` gets: the image, mounts and limits of the starter's container. */
function runArgs(name, volume) {
  return [
    "run", "-d", "--name", name, "--label", `${RAW_LABEL}=${runId}`,
    "--network", "host", "--init", "--restart", "unless-stopped",
    "--cpus", String(CPUS), "--memory", `${MEMORY_MB}m`,
    "--mount", `type=volume,src=${volume},dst=/home/dev`, "-w", "/home/dev",
    IMAGE, "sleep", "infinity",
  ];
}

const cliBaseline = {
  async create(i) {
    const name = rawName("cli", i);
    await docker(["volume", "create", "--label", `${RAW_LABEL}=${runId}`, name]);
    await docker(runArgs(name, name));
  },
  stop: (i) => docker(["rm", "-f", rawName("cli", i)]),
  start: (i) => docker(runArgs(rawName("cli", i), rawName("cli", i))),
};

/** The same through the Engine API (what dockerode sends): no CLI process start-up in the figure. */
async function apiRun(name) {
  const c = await engine("POST", `/containers/create?name=${name}`, {
    Image: IMAGE,
    Cmd: ["sleep", "infinity"],
    WorkingDir: "/home/dev",
    Labels: { [RAW_LABEL]: runId },
    HostConfig: {
      NetworkMode: "host",
      Init: true,
      RestartPolicy: { Name: "unless-stopped" },
      NanoCpus: CPUS * 1e9,
      Memory: MEMORY_MB * 1024 * 1024,
      Mounts: [{ Type: "volume", Source: name, Target: "/home/dev" }],
    },
  });
  await engine("POST", `/containers/${c.Id}/start`);
}
const apiBaseline = {
  async create(i) {
    const name = rawName("api", i);
    await engine("POST", "/volumes/create", { Name: name, Labels: { [RAW_LABEL]: runId } });
    await apiRun(name);
  },
  stop: (i) => engine("DELETE", `/containers/${rawName("api", i)}?force=true`),
  start: (i) => apiRun(rawName("api", i)),
};

// ---------- Outpost ----------

async function outpostPhase(api, phase, workspace) {
  const t0 = now();
  const wall0 = wallNow();
  let build;
  let ws = workspace;
  if (phase === "create") {
    ws = await api.post("/api/v2/users/me/workspaces", { name: workspace, template: "docker", parameters: { cpus: CPUS, memory_mb: MEMORY_MB } });
    build = ws.latest_build;
    workspaces.push(ws);
    workspaceIds.push(ws.id);
  } else {
    build = await api.post(`/api/v2/workspaces/${ws.id}/builds`, { transition: phase });
  }
  const done = await waitForJob(api, `/api/v2/workspacebuilds/${build.id}/logs`);
  const ms = now() - t0;
  const wall1 = wallNow();
  if (done.job.status !== "succeeded") {
    throw new Error(`${phase} build of ${ws.name} ${done.job.status}: ${done.job.error ?? ""}\n${done.logs.map((l) => `  [${l.stage}] ${l.output}`).join("\n")}`);
  }
  const full = await api.get(`/api/v2/workspacebuilds/${build.id}`);
  return { ws, ms, wall0, wall1, build: full };
}

/** Where an Outpost phase's time went: job timestamps, Docker events of its workspace, stage timings. */
function breakdown(r, events) {
  const job = r.build.job;
  const created = Date.parse(job.created_at);
  const started = Date.parse(job.started_at);
  const completed = Date.parse(job.completed_at);
  const ev = events.between(r.wall0, r.wall1 + 50, (e) => JSON.stringify(e.attributes).includes(r.ws.id) || String(e.id).includes(r.ws.id) || String(e.name).includes(r.ws.id));
  const first = ev[0]?.t;
  const last = ev.at(-1)?.t;
  const stages = {};
  const t = r.build.timings;
  t.forEach((s, k) => {
    const st = Date.parse(s.started_at);
    const next = k + 1 < t.length ? Date.parse(t[k + 1].started_at) : completed;
    stages[s.stage] = { fromJobStartMs: st - started, untilNextStageMs: next - st };
  });
  return {
    postToJobCreatedMs: created - r.wall0,
    queuedMs: started - created,
    jobRunMs: completed - started,
    completedToSeenMs: r.wall1 - completed,
    postToFirstDockerEventMs: first === undefined ? null : first - r.wall0,
    dockerEventsSpanMs: first === undefined ? null : last - first,
    lastDockerEventToSeenMs: last === undefined ? null : r.wall1 - last,
    dockerEvents: ev.map((e) => `${(e.t - r.wall0).toFixed(0)}ms ${e.type} ${e.action}`),
    stages,
  };
}

/** Median of every numeric field across breakdowns (stages included). */
function medianBreakdown(list) {
  const keys = ["postToJobCreatedMs", "queuedMs", "jobRunMs", "completedToSeenMs", "postToFirstDockerEventMs", "dockerEventsSpanMs", "lastDockerEventToSeenMs"];
  const out = Object.fromEntries(keys.map((k) => [k, round(median(list.map((b) => b[k])))]));
  const stageNames = [...new Set(list.flatMap((b) => Object.keys(b.stages)))];
  out.stages = Object.fromEntries(
    stageNames.map((n) => [
      n,
      {
        fromJobStartMs: round(median(list.map((b) => b.stages[n]?.fromJobStartMs))),
        untilNextStageMs: round(median(list.map((b) => b.stages[n]?.untilNextStageMs))),
      },
    ]),
  );
  return out;
}

/** Engine time inside a raw phase: first to last Docker event of its objects, and the rest (client). */
function rawBreakdown(r, events) {
  const ev = events.between(r.wall0, r.wall1 + 50, (e) => e.attributes[RAW_LABEL] === runId || String(e.id).includes(r.name) || String(e.name).includes(r.name));
  if (!ev.length) return { engineSpanMs: null, outsideEngineMs: null };
  const span = ev.at(-1).t - ev[0].t;
  return { engineSpanMs: span, outsideEngineMs: r.ms - span };
}

async function timeRaw(baseline, phase, i, kind) {
  const t0 = now();
  const wall0 = wallNow();
  await baseline[phase](i);
  return { ms: now() - t0, wall0, wall1: wallNow(), name: rawName(kind, i) };
}

// ---------- main ----------

function dockerPreflight() {
  const v = spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8" });
  if (v.status !== 0) throw new Error(`Docker is not reachable (docker version: ${v.stderr.trim()}); start dockerd first`);
  const img = spawnSync("docker", ["image", "inspect", IMAGE, "--format", "{{.Id}}"], { encoding: "utf8" });
  if (img.status !== 0) throw new Error(`image ${IMAGE} is missing: build it with bash scripts/build-base-image.sh`);
  return { version: v.stdout.trim(), image: img.stdout.trim() };
}

async function main() {
  const loadStart = round(os.loadavg()[0]);
  const dockerInfo = dockerPreflight();
  if (!existsSync(path.join(repoRoot, "packages/cli/dist/outpost.js"))) {
    log("building the CLI bundle");
    spawnSync(process.execPath, [path.join(repoRoot, "scripts/build.mjs"), "--quiet"], { stdio: "inherit" });
  }
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-bench-ws-"));
  // World-searchable, so as root the server can keep PostgreSQL under it (run as the postgres user).
  await fs.chmod(work, 0o755);
  log(`work dir ${work}, run id ${runId}`);
  const events = recordEvents(Date.now() - 1000);
  let api;
  const result = {};
  try {
    log("starting outpost server");
    server = await startServer(work, { extraEnv: DAEMONS ? { OUTPOST_PROVISIONER_DAEMONS: String(DAEMONS) } : {} });
    log(`server ready in ${server.readyMs} ms at ${server.url}`);
    api = apiClient(server.url);
    const password = "Timing-Runner-2024!x9"; // must not contain the username
    await api.post("/api/v2/users/first", { email: "bench@example.com", username: "bench", password });
    api.setToken((await api.post("/api/v2/users/login", { email: "bench@example.com", password })).session_token);

    log("pushing examples/templates/docker");
    const tar = spawnSync("tar", ["-c", "-C", path.join(repoRoot, "examples/templates/docker"), "."], { maxBuffer: 64 << 20 });
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
    const { hash } = await api.call("POST", "/api/v2/files", { raw: tar.stdout, contentType: "application/x-tar" });
    const i0 = now();
    const version = await api.post("/api/v2/templates/docker/versions", { file_hash: hash });
    const imported = await waitForJob(api, `/api/v2/templateversions/${version.id}/logs`);
    if (imported.job.status !== "succeeded") throw new Error(`template import ${imported.job.status}: ${imported.job.error}\n${imported.logs.map((l) => l.output).join("\n")}`);
    const importMs = round(now() - i0);
    log(`template imported in ${importMs} ms`);

    // Interleaved, so a load spike hits Outpost and the baselines alike; one at a time (latency, not throughput).
    const runs = { outpost: { create: [], stop: [], start: [] }, cli: { create: [], stop: [], start: [] }, api: { create: [], stop: [], start: [] } };
    const warm = { outpost: { create: [], stop: [], start: [] }, cli: { create: [], stop: [], start: [] }, api: { create: [], stop: [], start: [] } };
    for (let i = 0; i < WARMUP + N; i++) {
      const into = i < WARMUP ? warm : runs;
      const label = i < WARMUP ? `warm-up ${i + 1}/${WARMUP}` : `run ${i - WARMUP + 1}/${N}`;
      let ws = `bench-${i + 1}`;
      for (const phase of PHASES) {
        const r = await outpostPhase(api, phase, ws);
        if (phase === "create") ws = r.ws;
        into.outpost[phase].push(r);
        into.cli[phase].push(await timeRaw(cliBaseline, phase, i, "cli"));
        into.api[phase].push(await timeRaw(apiBaseline, phase, i, "api"));
        log(`${label} ${phase}: outpost ${round(r.ms)} ms, docker CLI ${round(into.cli[phase].at(-1).ms)} ms, engine API ${round(into.api[phase].at(-1).ms)} ms`);
      }
      if (i === WARMUP - 1) log("warm-up done");
    }

    // What one template evaluation costs outside a build: the provisioner's loader on the same starter.
    log("timing the template loader alone");
    const evalTimes = await timeTemplateEval(repoRoot, path.join(repoRoot, "examples/templates/docker"), {
      workspace: { id: "00000000-0000-4000-8000-000000000001", name: "bench", transition: "start", accessUrl: server.url },
      owner: { id: "00000000-0000-4000-8000-000000000002", username: "bench", email: "bench@example.com", name: "" },
      params: { cpus: CPUS, memory_mb: MEMORY_MB, dotfiles_uri: "" },
    });

    log("deleting workspaces");
    const deleteMs = [];
    for (const ws of workspaces.splice(0)) {
      try {
        deleteMs.push((await outpostPhase(api, "delete", ws)).ms);
      } catch (err) {
        failures.push(`delete ${ws.name}: ${err.message}`);
        workspaces.push(ws);
      }
    }

    await sleep(500); // let the events stream catch up
    const ms = (list) => list.map((r) => r.ms);
    const out = { outpost: {}, dockerRun: {}, engineApi: {}, overhead: {}, where: {}, rawEngine: {} };
    for (const phase of PHASES) {
      out.outpost[phase] = summary(ms(runs.outpost[phase]));
      out.dockerRun[phase] = summary(ms(runs.cli[phase]));
      out.engineApi[phase] = summary(ms(runs.api[phase]));
      const o = out.outpost[phase].p50;
      const c = out.dockerRun[phase].p50;
      const a = out.engineApi[phase].p50;
      out.overhead[phase] = {
        overDockerRunMs: round(o - c),
        ratioToDockerRun: round(o / c),
        overEngineApiMs: round(o - a),
        ratioToEngineApi: round(o / a),
      };
      out.where[phase] = medianBreakdown(runs.outpost[phase].map((r) => breakdown(r, events)));
      const cliB = runs.cli[phase].map((r) => rawBreakdown(r, events));
      const apiB = runs.api[phase].map((r) => rawBreakdown(r, events));
      out.rawEngine[phase] = {
        dockerRunEngineSpanMs: round(median(cliB.map((b) => b.engineSpanMs))),
        dockerRunOutsideEngineMs: round(median(cliB.map((b) => b.outsideEngineMs))),
        engineApiEngineSpanMs: round(median(apiB.map((b) => b.engineSpanMs))),
      };
    }
    const perPhase = Object.fromEntries(PHASES.map((p) => [p, out.overhead[p].overDockerRunMs < GOAL_OVERHEAD_MS]));
    Object.assign(result, {
      bench: "workspace-start",
      node: process.version,
      cpus: os.cpus().length,
      loadavg: { start: loadStart, end: round(os.loadavg()[0]) },
      root: isRoot,
      docker: dockerInfo.version,
      image: IMAGE,
      n: N,
      warmup: WARMUP,
      provisionerDaemons: DAEMONS ?? "default",
      serverReadyMs: server.readyMs,
      templateImportMs: importMs,
      outpostMs: { ...out.outpost, delete: summary(deleteMs) },
      dockerRunMs: out.dockerRun,
      engineApiMs: out.engineApi,
      overhead: out.overhead,
      goal: {
        overheadUnderMs: GOAL_OVERHEAD_MS,
        baseline: "p50 Outpost - p50 `docker run` (CLI), same run",
        perPhase,
        met: Object.values(perPhase).every(Boolean),
      },
      // Medians. Job timestamps are the server's, Docker events the engine's, both on this machine's clock.
      whereOutpostTimeGoes: out.where,
      rawEngine: out.rawEngine,
      // The provisioner's loadTemplate() on the starter, alone (bundle + child process), and the bare
      // start of a Node process with the flags the loader gives its child.
      templateEvalAloneMs: round(median(evalTimes.loadMs)),
      nodeChildStartMs: round(median(evalTimes.childStartMs)),
      warmupMs: WARMUP
        ? Object.fromEntries(PHASES.map((p) => [p, { outpost: round(median(ms(warm.outpost[p]))), dockerRun: round(median(ms(warm.cli[p]))), engineApi: round(median(ms(warm.api[p]))) }]))
        : undefined,
      samples: Object.fromEntries(
        PHASES.map((p) => [p, { outpost: ms(runs.outpost[p]).map(round), dockerRun: ms(runs.cli[p]).map(round), engineApi: ms(runs.api[p]).map(round) }]),
      ),
      // Per Outpost sample: where it went (an outlier shows here as a long queue, template or Docker part).
      outpostSamplesWhere: Object.fromEntries(
        PHASES.map((p) => [
          p,
          runs.outpost[p].map((r) => {
            const b = breakdown(r, events);
            return {
              ms: round(r.ms),
              queuedMs: b.queuedMs,
              jobRunMs: b.jobRunMs,
              completedToSeenMs: round(b.completedToSeenMs),
              postToFirstDockerEventMs: round(b.postToFirstDockerEventMs),
              dockerEventsSpanMs: round(b.dockerEventsSpanMs),
              lastDockerEventToSeenMs: round(b.lastDockerEventToSeenMs),
            };
          }),
        ]),
      ),
      exampleDockerEvents: Object.fromEntries(PHASES.map((p) => [p, breakdown(runs.outpost[p].at(-1), events).dockerEvents])),
    });
  } finally {
    await cleanup(api, server, events);
    if (KEEP) log(`kept ${work}`);
    else await fs.rm(work, { recursive: true, force: true }).catch(() => {});
  }
  result.checks = { cleanedUp: failures.length === 0, failures };
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  if (failures.length) process.exitCode = 1;
}

/** Deletes what is left (workspaces through the API, then anything labelled by us), stops the server. */
async function cleanup(api, server, events) {
  for (const ws of api ? workspaces.splice(0) : []) {
    try {
      await outpostPhase(api, "delete", ws);
    } catch (err) {
      failures.push(`cleanup: delete ${ws.name ?? ws}: ${err.message}`);
    }
  }
  // Raw baseline objects, always ours (run id label).
  const rawContainers = (await docker(["ps", "-aq", "--filter", `label=${RAW_LABEL}=${runId}`], { allowFail: true })).split("\n").filter(Boolean);
  if (rawContainers.length) await docker(["rm", "-f", ...rawContainers], { allowFail: true });
  const rawVolumes = (await docker(["volume", "ls", "-q", "--filter", `label=${RAW_LABEL}=${runId}`], { allowFail: true })).split("\n").filter(Boolean);
  if (rawVolumes.length) await docker(["volume", "rm", "-f", ...rawVolumes], { allowFail: true });
  // Anything an Outpost workspace of this run left behind is a failure of the bench's check (and removed).
  for (const id of workspaceIds) {
    const cs = (await docker(["ps", "-aq", "--filter", `label=outpost.workspace_id=${id}`], { allowFail: true })).split("\n").filter(Boolean);
    const vs = (await docker(["volume", "ls", "-q", "--filter", `label=outpost.workspace_id=${id}`], { allowFail: true })).split("\n").filter(Boolean);
    if (cs.length || vs.length) {
      failures.push(`workspace ${id} left ${cs.length} container(s) and ${vs.length} volume(s) after its delete build`);
      if (cs.length) await docker(["rm", "-f", ...cs], { allowFail: true });
      if (vs.length) await docker(["volume", "rm", "-f", ...vs], { allowFail: true });
    }
  }
  const left = (await docker(["ps", "-aq", "--filter", `label=${RAW_LABEL}=${runId}`], { allowFail: true })) + (await docker(["volume", "ls", "-q", "--filter", `label=${RAW_LABEL}=${runId}`], { allowFail: true }));
  if (left.trim()) failures.push(`raw baseline objects still present: ${left.trim()}`);
  if (server) {
    const pg = server.postmasterPid();
    const code = await server.stop();
    if (code !== 0) failures.push(`server exit ${code} after SIGTERM (expected 0):\n${server.output().slice(-2000)}`);
    for (let i = 0; i < 100 && pg && alive(pg); i++) await sleep(20);
    if (pg && alive(pg)) failures.push(`PostgreSQL (pid ${pg}) still running after the server stopped`);
  }
  events.stop();
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  if (server) process.stderr.write(`bench: server output (tail):\n${server.output().slice(-4000)}\n`);
  process.exit(1);
});
