// One contract, every driver: the same cases run against the fake driver, the process driver and
// (when a Docker engine and a base image are there) the docker driver, each observed through the
// real thing it manages (the fake's map, /proc, the Docker Engine API), not through the driver's own
// answers. Docker-only and process-only cases follow.
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agent, docker, processDriver, type Resource } from "@outpost/template";
import { AGENT_MOUNT_PATH } from "@outpost/template/agent-init";
import { addressOf } from "@outpost/template/resources";
import { applyPlan, type ApplyResult } from "../../src/apply.js";
import { imageTag } from "../../src/drivers/docker-image.js";
import { DockerDriver, containerName } from "../../src/drivers/docker.js";
import { DriverUnavailableError, WORKSPACE_LABEL, type Driver, type DriverContext } from "../../src/drivers/driver.js";
import { FakeDriver } from "../../src/drivers/fake.js";
import { ProcessDriver, PROCESS_WORKSPACE_ENV } from "../../src/drivers/process.js";
import { plan, type ResourceState } from "../../src/plan.js";
import { FAKE_DONE_MARKER, writeFakeAgent } from "../helpers/fake-agent.js";
import { DEFAULT_DOCKER_SOCKET, ensureDocker, findBaseImage } from "../../../../test/docker-setup.js";

// --- observing host processes independently of the process driver ---

async function readProc(pid: number): Promise<{ state: string; pgid: number; env: Record<string, string> } | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, "latin1");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const environ = await fs.readFile(`/proc/${pid}/environ`, "latin1");
    const env = Object.fromEntries(environ.split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    return { state: f[0]!, pgid: Number(f[2]), env };
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) processes whose environment says they belong to the workspace. */
async function workspaceProcesses(ws: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const p = await readProc(Number(e));
    if (p && p.state !== "Z" && p.env[PROCESS_WORKSPACE_ENV] === ws) pids.push(Number(e));
  }
  return pids;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// --- the harness each driver provides ---

/** The agent env of a test agent: the fake agent runs FAKE_STARTUP (see helpers/fake-agent.ts). */
function fakeEnv(o: AgentOpts): Record<string, string> | undefined {
  return o.env || o.startupScript ? { ...o.env, ...(o.startupScript ? { FAKE_STARTUP: o.startupScript } : {}) } : undefined;
}

interface AgentOpts {
  env?: Record<string, string>;
  startupScript?: string;
  name?: string;
}

interface Harness<D extends Driver = Driver> {
  driver: D;
  templateDir: string;
  /** The persistent home (a volume), when the driver has one as a resource. */
  home?(ws: string): ReturnType<typeof docker.volume>;
  agent(ws: string, o?: AgentOpts): Resource;
  /** Kinds listByWorkspace reports for a started workspace, sorted. */
  startedKinds: string[];
  /** ... and for a stopped one. */
  stoppedKinds: string[];
  /** Id of the running agent object for `address` (container id, process group, fake id); undefined when none runs. */
  agentId(ws: string, address: string): Promise<string | undefined>;
  /** The environment the running agent got. */
  agentEnvOf(ws: string, address: string): Promise<Record<string, string> | undefined>;
  homeExists(ws: string): Promise<boolean>;
  /** A build that fails part way: `first` is created, then `broken` fails; `fixed` replaces `broken` in the next build. */
  partial(ws: string): { first: Resource; broken: Resource; fixed: Resource; undo?: () => void };
  /** A build that takes long enough to cancel: `setup` is applied first, then `slow` (with `transition`). */
  slow(ws: string): { setup: Resource[]; slow: Resource[]; transition: DriverContext["transition"]; after?: () => Promise<void> };
  /** Everything left for the workspace outside the driver's view (for the "delete removes everything" check). */
  leftovers(ws: string): Promise<string[]>;
  cleanup(workspaces: string[]): Promise<void>;
}

const agentEnv = (a: { name: string }) => ({ OUTPOST_AGENT_TOKEN: `token-for-${a.name}`, OUTPOST_AGENT_URL: "http://127.0.0.1:1" });

function makeCtx(ws: string, transition: DriverContext["transition"], templateDir: string, signal = new AbortController().signal): DriverContext & { lines: string[] } {
  const lines: string[] = [];
  return { workspaceId: ws, transition, templateDir, signal, log: (level, line) => lines.push(`${level}: ${line}`), agentEnv, outputsOf: () => undefined, lines };
}

async function build(h: Harness, ws: string, previous: ResourceState[], desired: Resource[], transition: DriverContext["transition"] = "start", signal?: AbortSignal) {
  const ctx = makeCtx(ws, transition, h.templateDir, signal);
  const actions = plan(previous, desired);
  const result: ApplyResult = await applyPlan({ actions, drivers: [h.driver], ctx });
  return { ...result, actions, lines: ctx.lines };
}

const kinds = async (d: Driver, ws: string) => (await d.listByWorkspace(ws)).map((o) => o.kind).sort();

/** The shared cases. `get` is called inside tests only (a skipped driver never builds its harness). */
function contract(get: () => Harness) {
  const used: string[] = [];
  const newWs = () => {
    const ws = `ct-${randomUUID().slice(0, 13)}`;
    used.push(ws);
    return ws;
  };
  const started = (h: Harness, ws: string, o?: AgentOpts) => [...(h.home ? [h.home(ws)] : []), h.agent(ws, o)];
  const stopped = (h: Harness, ws: string) => (h.home ? [h.home(ws)] : []);
  afterAll(async () => {
    if (used.length) await get().cleanup(used);
  });

  it("check() passes when the backing system is there", async () => {
    await expect(get().driver.check()).resolves.toBeUndefined();
  });

  it("creates the home and the agent; listByWorkspace finds them by label, and only them", async () => {
    const h = get();
    const ws = newWs();
    const r = await build(h, ws, [], started(h, ws));
    expect(r.error).toBeUndefined();
    const agentAddr = addressOf(h.agent(ws));
    expect(r.state.map((s) => s.address)).toEqual(started(h, ws).map(addressOf));
    expect(await h.agentId(ws, agentAddr)).toBeDefined();
    expect(await h.homeExists(ws)).toBe(true);
    expect(await h.agentEnvOf(ws, agentAddr)).toMatchObject(agentEnv({ name: "main" }));
    expect(await kinds(h.driver, ws)).toEqual(h.startedKinds);
    expect(await h.driver.listByWorkspace(newWs())).toEqual([]);

    // An unchanged rebuild keeps everything as it is.
    const again = await build(h, ws, r.state, started(h, ws));
    expect(again.error).toBeUndefined();
    expect(again.actions.every((a) => a.action === "keep")).toBe(true);
    expect(again.state).toEqual(r.state);
  });

  it("update: driver.update applies a changed resource and the state records it", async () => {
    const h = get();
    const ws = newWs();
    const r = await build(h, ws, [], started(h, ws, { env: { STAGE: "one" } }));
    expect(r.error).toBeUndefined();
    const agentAddr = addressOf(h.agent(ws));
    const previous = r.state.find((s) => s.address === agentAddr)!;
    const next = h.agent(ws, { env: { STAGE: "two" } });
    const ctx = makeCtx(ws, "start", h.templateDir);
    const res = await applyPlan({ actions: [{ action: "update", address: agentAddr, resource: next, previous, changed: ["env"] }], drivers: [h.driver], ctx });
    expect(res.error).toBeUndefined();
    expect(res.state[0]!.resource).toEqual(next);
    expect((await h.agentEnvOf(ws, agentAddr))?.STAGE).toBe("two");
    expect((await kinds(h.driver, ws)).filter((k) => k === "container" || k === "process")).toHaveLength(1);
  });

  it("plan-level in-place update of the home keeps the running agent", async () => {
    const h = get();
    if (!h.home) {
      // The process driver's home is its workspace directory, which is not a resource: nothing to update.
      expect(h.driver.types).not.toContain("docker_volume");
      return;
    }
    const ws = newWs();
    const r = await build(h, ws, [], started(h, ws));
    const agentAddr = addressOf(h.agent(ws));
    const before = await h.agentId(ws, agentAddr);
    const relabelled = { ...h.home(ws), labels: { team: "blue" } };
    const u = await build(h, ws, r.state, [relabelled, h.agent(ws)]);
    expect(u.error).toBeUndefined();
    expect(u.actions.map((a) => a.action)).toEqual(["update", "keep"]);
    expect(u.state[0]!.resource).toEqual(relabelled);
    expect(await h.agentId(ws, agentAddr)).toBe(before);
    expect(await h.homeExists(ws)).toBe(true);
  });

  it("replaces the agent when its spec changes, keeping the home", async () => {
    const h = get();
    const ws = newWs();
    const r = await build(h, ws, [], started(h, ws));
    const agentAddr = addressOf(h.agent(ws));
    const before = await h.agentId(ws, agentAddr);
    const x = await build(h, ws, r.state, started(h, ws, { env: { CHANGED: "yes" } }));
    expect(x.error).toBeUndefined();
    expect(x.actions.find((a) => a.address === agentAddr)?.action).toBe("replace");
    const after = await h.agentId(ws, agentAddr);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect((await h.agentEnvOf(ws, agentAddr))?.CHANGED).toBe("yes");
    expect(await h.homeExists(ws)).toBe(true);
    expect(await kinds(h.driver, ws)).toEqual(h.startedKinds); // the old agent is gone, not left beside the new one
  });

  it("deleting what does not exist succeeds", async () => {
    const h = get();
    const ws = newWs();
    const ctx = makeCtx(ws, "delete", h.templateDir);
    const ghost = (r: Resource): ResourceState => ({ address: addressOf(r), resource: r, outputs: { id: "gone", pid: 2 ** 22 + 1 } });
    for (const r of started(h, ws)) await expect(h.driver.delete(ctx, ghost(r))).resolves.toBeUndefined();
    // And deleting twice.
    const made = await build(h, ws, [], started(h, ws));
    for (const s of [...made.state].reverse()) await h.driver.delete(ctx, s);
    for (const s of [...made.state].reverse()) await expect(h.driver.delete(ctx, s)).resolves.toBeUndefined();
    expect(await h.agentId(ws, addressOf(h.agent(ws)))).toBeUndefined();
  });

  it("create adopts what already exists when the state was lost; listByWorkspace shows it as an orphan meanwhile", async () => {
    const h = get();
    const ws = newWs();
    const r = await build(h, ws, [], started(h, ws));
    const agentAddr = addressOf(h.agent(ws));
    const before = await h.agentId(ws, agentAddr);
    // The state is lost (say the server crashed before recording it): the objects are orphans.
    expect(await kinds(h.driver, ws)).toEqual(h.startedKinds);
    const again = await build(h, ws, [], started(h, ws));
    expect(again.error).toBeUndefined();
    expect(again.actions.every((a) => a.action === "create")).toBe(true);
    expect(await h.agentId(ws, agentAddr)).toBe(before);
    expect(await kinds(h.driver, ws)).toEqual(h.startedKinds); // adopted, not duplicated
    expect(again.state.map((s) => s.address)).toEqual(r.state.map((s) => s.address));
  });

  it("stop removes the agent and keeps the home; delete then removes everything", async () => {
    const h = get();
    const ws = newWs();
    const r = await build(h, ws, [], started(h, ws));
    const agentAddr = addressOf(h.agent(ws));
    const stop = await build(h, ws, r.state, stopped(h, ws), "stop");
    expect(stop.error).toBeUndefined();
    expect(stop.state.map((s) => s.address)).toEqual(stopped(h, ws).map(addressOf));
    expect(await h.agentId(ws, agentAddr)).toBeUndefined();
    expect(await h.homeExists(ws)).toBe(true);
    expect(await kinds(h.driver, ws)).toEqual(h.stoppedKinds);

    // Start again (the home is reused), then stop and delete as two builds, as users do.
    const start2 = await build(h, ws, stop.state, started(h, ws));
    expect(start2.error).toBeUndefined();
    expect(await h.agentId(ws, agentAddr)).toBeDefined();
    const stop2 = await build(h, ws, start2.state, stopped(h, ws), "stop");
    const del = await build(h, ws, stop2.state, [], "delete");
    expect(del.error).toBeUndefined();
    expect(del.state).toEqual([]);
    expect(await h.homeExists(ws)).toBe(false);
    expect(await h.driver.listByWorkspace(ws)).toEqual([]);
    expect(await h.leftovers(ws)).toEqual([]);
  });

  it("delete straight from running removes everything", async () => {
    const h = get();
    const ws = newWs();
    const r = await build(h, ws, [], started(h, ws));
    const del = await build(h, ws, r.state, [], "delete");
    expect(del.error).toBeUndefined();
    expect(await h.homeExists(ws)).toBe(false);
    expect(await h.driver.listByWorkspace(ws)).toEqual([]);
    expect(await h.leftovers(ws)).toEqual([]);
  });

  it("a failed build keeps what it created in the state, and the next build repairs the workspace", async () => {
    const h = get();
    const ws = newWs();
    const p = h.partial(ws);
    const failed = await build(h, ws, [], [p.first, p.broken]);
    expect(failed.error).toBeInstanceOf(Error);
    expect(failed.state.map((s) => s.address)).toEqual([addressOf(p.first)]);
    expect(failed.lines.some((l) => l.startsWith("error:"))).toBe(true);
    expect(await h.agentId(ws, addressOf(p.broken))).toBeUndefined();
    p.undo?.();
    const repaired = await build(h, ws, failed.state, [p.first, p.fixed]);
    expect(repaired.error).toBeUndefined();
    expect(repaired.actions.map((a) => `${a.action} ${a.address}`)).toEqual([`keep ${addressOf(p.first)}`, `create ${addressOf(p.fixed)}`]);
    expect(await h.agentId(ws, addressOf(p.fixed))).toBeDefined();
  });

  it("cancel: aborting ctx.signal stops a long operation promptly", async () => {
    const h = get();
    const ws = newWs();
    const s = h.slow(ws);
    const setup = await build(h, ws, [], s.setup);
    expect(setup.error).toBeUndefined();
    const ac = new AbortController();
    let abortedAt = 0;
    setTimeout(() => {
      abortedAt = Date.now();
      ac.abort();
    }, 400);
    const started = Date.now();
    const r = await build(h, ws, setup.state, s.slow, s.transition, ac.signal);
    const done = Date.now();
    expect(abortedAt).toBeGreaterThan(0); // it was still running when aborted
    expect(r.error?.name).toBe("AbortError");
    expect(done - abortedAt).toBeLessThan(3000);
    expect(done - started).toBeLessThan(5000);
    await s.after?.();
  });

  it("an aborted signal before the build starts changes nothing", async () => {
    const h = get();
    const ws = newWs();
    const ac = new AbortController();
    ac.abort();
    const r = await build(h, ws, [], started(h, ws), "start", ac.signal);
    expect(r.error?.name).toBe("AbortError");
    expect(r.state).toEqual([]);
    expect(await h.driver.listByWorkspace(ws)).toEqual([]);
  });
}

// --- fake ---

function fakeHarness(): Harness {
  const driver = new FakeDriver();
  const home = (ws: string) => docker.volume({ name: `outpost-${ws}-home` });
  const mk = (ws: string, o: AgentOpts = {}) =>
    docker.container({ name: o.name ?? "main", image: "outpost/base", agent: agent({ dir: "/home/dev" }), ...(fakeEnv(o) ? { env: fakeEnv(o) } : {}), mounts: [{ source: home(ws), target: "/home/dev" }] });
  return {
    driver,
    templateDir: os.tmpdir(),
    home,
    agent: mk,
    startedKinds: ["container", "volume"],
    stoppedKinds: ["volume"],
    agentId: async (ws, address) => driver.find(ws, address)?.id,
    agentEnvOf: async (ws, address) => driver.find(ws, address)?.env,
    homeExists: async (ws) => driver.find(ws, addressOf(home(ws))) !== undefined,
    partial: (ws) => {
      const broken = mk(ws, { name: "broken" });
      driver.failOn(addressOf(broken), { op: "create" });
      return { first: home(ws), broken, fixed: broken, undo: () => driver.clearFaults() };
    },
    slow: (ws) => {
      driver.hangOn(addressOf(mk(ws)), { op: "create", times: 1 });
      return { setup: [], slow: [home(ws), mk(ws)], transition: "start" };
    },
    leftovers: async () => [],
    cleanup: async () => {},
  };
}

describe("fake driver", () => contract(fakeHarness));

// --- process ---

let processData: string | undefined;
const fakeAgent = (dir: string) => path.join(dir, "fake-outpost-agent");

function processHarness(): Harness {
  if (!processData) throw new Error("process data dir not ready");
  const dataDir = processData;
  // A long grace period, so the cancel case shows that an abort cuts it short.
  const driver = new ProcessDriver({ dataDir, killGraceMs: 10_000, env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }, agentCommand: [fakeAgent(dataDir)] });
  const mk = (_ws: string, o: AgentOpts = {}) => processDriver.agent({ name: o.name ?? "main", agent: agent({ ...(fakeEnv(o) ? { env: fakeEnv(o) } : {}) }) });
  const leader = async (ws: string, address: string) => {
    for (const pid of await workspaceProcesses(ws)) {
      const p = await readProc(pid);
      if (p && p.pgid === pid && p.env.OUTPOST_RESOURCE === address) return { pid, env: p.env };
    }
    return undefined;
  };
  return {
    driver,
    templateDir: os.tmpdir(),
    agent: mk,
    startedKinds: ["directory", "process"],
    stoppedKinds: ["directory"],
    agentId: async (ws, address) => (await leader(ws, address))?.pid.toString(),
    agentEnvOf: async (ws, address) => (await leader(ws, address))?.env,
    homeExists: async (ws) =>
      fs.stat(path.join(dataDir, "workspaces", ws)).then(
        (s) => s.isDirectory(),
        () => false,
      ),
    partial: (ws) => {
      // An agent whose directory cannot be created (a file is in the way) fails to start.
      const blocker = path.join(dataDir, `blocker-${ws}`);
      writeFileSync(blocker, "not a directory");
      return {
        first: mk(ws, { name: "first" }),
        broken: processDriver.agent({ name: "second", agent: agent({ dir: path.join(blocker, "sub") }) }),
        fixed: processDriver.agent({ name: "second", agent: agent({ dir: "sub" }) }),
      };
    },
    slow: (ws) => ({
      // A startup script that ignores SIGTERM: stopping must wait for the grace period, unless canceled.
      setup: [mk(ws, { startupScript: "trap '' TERM; echo ignoring TERM; sleep 120" })],
      slow: [],
      transition: "stop",
      after: async () => {
        expect(await workspaceProcesses(ws)).toEqual([]); // the cancel sent SIGKILL: nothing survives
      },
    }),
    leftovers: async (ws) => (await workspaceProcesses(ws)).map(String),
    cleanup: async (workspaces) => {
      for (const ws of workspaces) for (const pid of await workspaceProcesses(ws)) process.kill(pid, "SIGKILL");
    },
  };
}

describe("process driver", () => {
  beforeAll(async () => {
    processData = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-process-driver-"));
    writeFakeAgent(processData);
  });
  afterAll(async () => {
    if (processData) await fs.rm(processData, { recursive: true, force: true });
  });
  contract(processHarness);

  it("starts the agent command in the workspace directory, in its own process group, with the agent env and HOME", async () => {
    const h = processHarness();
    const ws = `ct-${randomUUID().slice(0, 13)}`;
    const dir = path.join(processData!, "workspaces", ws);
    try {
      const res = await build(h, ws, [], [h.agent(ws, { startupScript: 'echo "hello from $(pwd) home=$HOME token=$OUTPOST_AGENT_TOKEN"; touch made-by-startup' })]);
      expect(res.error).toBeUndefined();
      expect(res.state[0]!.outputs).toMatchObject({ dir, cwd: dir });
      const pid = res.state[0]!.outputs.pid as number;
      expect((await readProc(pid))?.pgid).toBe(pid); // its own process group
      const log = await waitFor("the startup script to finish", async () => {
        const text = await fs.readFile(path.join(dir, ".outpost/startup.log"), "utf8").catch(() => "");
        return text.includes(FAKE_DONE_MARKER) && text;
      });
      expect(log).toContain(`hello from ${dir} home=${dir} token=token-for-main`);
      expect(log).toContain(`${FAKE_DONE_MARKER} 0`);
      await expect(fs.stat(path.join(dir, "made-by-startup"))).resolves.toBeDefined();
      // Stop: the process group goes at once (the agent exits on SIGTERM), the directory stays.
      const t = Date.now();
      const stop = await build(h, ws, res.state, [], "stop");
      expect(stop.error).toBeUndefined();
      expect(Date.now() - t).toBeLessThan(2000);
      expect(await readProc(pid)).toBeUndefined();
      await expect(fs.stat(path.join(dir, "made-by-startup"))).resolves.toBeDefined();
    } finally {
      await h.cleanup([ws]);
    }
  });

  it("a process that ignores SIGTERM is killed after the grace period", async () => {
    const driver = new ProcessDriver({ dataDir: processData!, killGraceMs: 300, agentCommand: [fakeAgent(processData!)] });
    const h = { ...processHarness(), driver };
    const ws = `ct-${randomUUID().slice(0, 13)}`;
    try {
      const res = await build(h, ws, [], [h.agent(ws, { startupScript: "trap '' TERM; sleep 120" })]);
      expect(res.error).toBeUndefined();
      const dir = path.join(processData!, "workspaces", ws);
      await waitFor("the startup script to start", async () => (await fs.readFile(path.join(dir, ".outpost/startup.log"), "utf8").catch(() => "")).includes("[fake-agent] started"));
      await new Promise((r) => setTimeout(r, 100)); // its trap is set
      const t = Date.now();
      const stop = await build(h, ws, res.state, [], "stop");
      expect(stop.error).toBeUndefined();
      expect(Date.now() - t).toBeGreaterThanOrEqual(300);
      expect(await workspaceProcesses(ws)).toEqual([]);
    } finally {
      await h.cleanup([ws]);
    }
  });

  it("refuses workspace ids that could escape the data directory", async () => {
    const driver = new ProcessDriver({ dataDir: processData!, agentCommand: [fakeAgent(processData!)] });
    const ctx = makeCtx("../evil", "start", os.tmpdir());
    await expect(driver.create(ctx, processDriver.agent({ agent: agent() }))).rejects.toThrow(/invalid workspace id/);
    await expect(fs.stat(path.join(processData!, "evil"))).rejects.toThrow();
  });
});

// --- docker ---

// DOCKER_HOST=unix:///path points the docker cases at another engine (or at none, to see them skip).
const dockerHost = process.env.DOCKER_HOST;
const SOCKET = dockerHost?.startsWith("unix://") ? dockerHost.slice("unix://".length) : DEFAULT_DOCKER_SOCKET;
const dockerReady = dockerHost && !dockerHost.startsWith("unix://") ? { ok: false as const, reason: `DOCKER_HOST=${dockerHost}: these tests use a unix socket` } : await ensureDocker(SOCKET);
// OUTPOST_TEST_BASE_IMAGE picks the image (e.g. outpost/base:probe, which has no dev user).
const baseImage = !dockerReady.ok ? undefined : process.env.OUTPOST_TEST_BASE_IMAGE ? { image: process.env.OUTPOST_TEST_BASE_IMAGE } : await findBaseImage({ socketPath: SOCKET, build: true });
const dockerSkip = !dockerReady.ok ? dockerReady.reason : baseImage && "reason" in baseImage ? baseImage.reason : undefined;
const IMAGE = baseImage && "image" in baseImage ? baseImage.image : "outpost/base";
if (dockerSkip) console.warn(`docker driver cases skipped: ${dockerSkip}`);

let dockerDriver: DockerDriver | undefined;
let dockerTemplateDir: string | undefined;
const dockerWorkspaces: string[] = [];

async function dockerCleanup(workspaces: string[]): Promise<void> {
  const d = (dockerDriver ??= new DockerDriver({ socketPath: SOCKET })).docker;
  for (const ws of workspaces) {
    const filters = { label: [`${WORKSPACE_LABEL}=${ws}`] };
    for (const c of await d.listContainers({ all: true, filters })) await d.getContainer(c.Id).remove({ force: true }).catch(() => {});
    for (const v of (await d.listVolumes({ filters })).Volumes ?? []) await d.getVolume(v.Name).remove().catch(() => {});
    for (const i of await d.listImages({ filters })) await d.getImage(i.Id).remove({ force: true }).catch(() => {});
  }
}

function dockerHarness(): Harness<DockerDriver> {
  const driver = (dockerDriver ??= new DockerDriver({ socketPath: SOCKET, agentBinaryPath: fakeAgent(dockerTemplateDir!) }));
  const d = driver.docker;
  const templateDir = dockerTemplateDir!;
  const home = (ws: string) => docker.volume({ name: `outpost-${ws}-home` });
  const mk = (ws: string, o: AgentOpts = {}) =>
    docker.container({
      name: o.name ?? "main",
      image: IMAGE,
      agent: agent({ dir: "/home/dev" }),
      ...(fakeEnv(o) ? { env: fakeEnv(o) } : {}),
      mounts: [{ source: home(ws), target: "/home/dev" }],
    });
  const running = async (ws: string, address: string) => {
    const name = containerName(ws, address.split(".").slice(1).join("."));
    const info = await d
      .getContainer(name)
      .inspect()
      .catch(() => undefined);
    return info?.State.Running ? info : undefined;
  };
  return {
    driver,
    templateDir,
    home,
    agent: mk,
    startedKinds: ["container", "volume"],
    stoppedKinds: ["volume"],
    agentId: async (ws, address) => (await running(ws, address))?.Id,
    agentEnvOf: async (ws, address) => {
      const info = await running(ws, address);
      return info ? Object.fromEntries(info.Config.Env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])) : undefined;
    },
    homeExists: async (ws) =>
      d
        .getVolume(home(ws).name)
        .inspect()
        .then(
          () => true,
          () => false,
        ),
    partial: (ws) => ({
      first: home(ws),
      broken: docker.container({ name: "main", image: "outpost/no-such-image:never", agent: agent(), mounts: [{ source: home(ws), target: "/home/dev" }] }),
      fixed: mk(ws),
    }),
    slow: (ws) => ({
      setup: [],
      slow: [docker.image({ name: "slow", context: "slow" })],
      transition: "start",
      after: async () => {
        expect(await d.getImage(imageTag(ws, "slow")).inspect().catch(() => undefined)).toBeUndefined();
        // The engine drops the build when the client goes: no build step keeps sleeping.
        await waitFor("the canceled build's container to go", async () => (await d.listContainers()).every((c) => !c.Command.includes("sleep 30")), 15_000);
      },
    }),
    leftovers: async (ws) => {
      const all = await d.listContainers({ all: true });
      const vols = (await d.listVolumes()).Volumes ?? [];
      return [...all.flatMap((c) => c.Names).filter((n) => n.includes(ws)), ...vols.map((v) => v.Name).filter((n) => n.includes(ws))];
    },
    cleanup: dockerCleanup,
  };
}

describe.skipIf(dockerSkip !== undefined)(`docker driver${dockerSkip ? ` (skipped: ${dockerSkip})` : ` (image ${IMAGE})`}`, () => {
  beforeAll(async () => {
    dockerTemplateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-docker-template-"));
    await fs.chmod(dockerTemplateDir, 0o755); // bind-mounted into a container that runs as dev
    writeFakeAgent(dockerTemplateDir);
    await fs.mkdir(path.join(dockerTemplateDir, "slow"));
    await fs.writeFile(path.join(dockerTemplateDir, "slow/Dockerfile"), `FROM ${IMAGE}\nRUN sleep 30\n`);
    await fs.mkdir(path.join(dockerTemplateDir, "app"));
    await fs.writeFile(path.join(dockerTemplateDir, "app/Dockerfile"), `FROM ${IMAGE}\nARG GREETING=none\nCOPY . /opt/ctx/\nRUN echo "build step says $GREETING-$((6*7))" && echo "$GREETING" > /opt/greeting\n`);
    await fs.writeFile(path.join(dockerTemplateDir, "app/hello.txt"), "copied from the template folder\n");
    await fs.writeFile(path.join(dockerTemplateDir, "app/.dockerignore"), "secret.txt\n");
    await fs.writeFile(path.join(dockerTemplateDir, "app/secret.txt"), "must not reach the build context\n");
    await fs.mkdir(path.join(dockerTemplateDir, "broken"));
    await fs.writeFile(path.join(dockerTemplateDir, "broken/Dockerfile"), `FROM ${IMAGE}\nRUN echo about to fail && exit 3\n`);
  });
  afterAll(async () => {
    await dockerCleanup(dockerWorkspaces);
    if (dockerTemplateDir) await fs.rm(dockerTemplateDir, { recursive: true, force: true });
  });

  contract(dockerHarness);

  const newWs = () => {
    const ws = `ct-${randomUUID().slice(0, 13)}`;
    dockerWorkspaces.push(ws);
    return ws;
  };

  it("runs the container as the template says: host network, init, limits, labels, env, user and dir from the agent", async () => {
    const h = dockerHarness();
    const ws = newWs();
    const c = docker.container({
      image: IMAGE,
      cpus: 1.5,
      memoryMb: 256,
      env: { EDITOR: "nano" },
      agent: agent({ dir: "/home/dev", env: { FROM_AGENT: "1", FAKE_STARTUP: 'echo "startup as $(id -un) in $(pwd)"' } }),
      mounts: [{ source: h.home!(ws), target: "/home/dev" }, { source: { hostPath: dockerTemplateDir! }, target: "/template", readOnly: true }],
    });
    const r = await build(h, ws, [], [h.home!(ws), c]);
    expect(r.error).toBeUndefined();
    const info = await h.driver.docker.getContainer(containerName(ws, "main")).inspect();
    expect(info.Id).toBe(r.state[1]!.outputs.id);
    expect(info.HostConfig.NetworkMode).toBe("host");
    expect(info.HostConfig.Init).toBe(true);
    expect(info.HostConfig.NanoCpus).toBe(1_500_000_000);
    expect(info.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(info.Config.Labels).toMatchObject({ [WORKSPACE_LABEL]: ws, "outpost.resource": "docker_container.main" });
    expect(info.Config.Env).toEqual(expect.arrayContaining(["EDITOR=nano", "FROM_AGENT=1", "OUTPOST_AGENT_TOKEN=token-for-main"]));
    expect(info.Config.WorkingDir).toBe("/home/dev");
    const hasDev = (await h.driver.exec(info.Id, ["id", "-u", "dev"])).exitCode === 0;
    expect(info.Config.User).toBe(hasDev ? "dev" : ""); // outpost/base has a dev user whose home is /home/dev
    expect(info.Mounts.map((m) => `${m.Type} ${m.Type === "volume" ? m.Name : m.Source} ${m.Destination} ${m.RW ? "rw" : "ro"}`).sort()).toEqual(
      [`bind ${dockerTemplateDir} /template ro`, `bind ${fakeAgent(dockerTemplateDir!)} ${AGENT_MOUNT_PATH} ro`, `volume outpost-${ws}-home /home/dev rw`].sort(),
    );
    const ro = await h.driver.exec(info.Id, ["cat", "/template/app/hello.txt"]);
    expect(ro.stdout).toBe("copied from the template folder\n");
    const log = await waitFor("the startup log", async () => {
      const out = await h.driver.exec(info.Id, ["cat", "/home/dev/.outpost/startup.log"]);
      return out.stdout.includes(FAKE_DONE_MARKER) && out.stdout;
    });
    expect(log).toContain(`startup as ${hasDev ? "dev" : "root"} in /home/dev`);
    // SIGTERM ends the agent at once (init forwards it to the agent the init script exec'd).
    const t = Date.now();
    const stop = await build(h, ws, r.state, [h.home!(ws)], "stop");
    expect(stop.error).toBeUndefined();
    expect(Date.now() - t).toBeLessThan(4000);
  });

  it("a file written in the home volume survives the container's replacement", async () => {
    const h = dockerHarness();
    const ws = newWs();
    const first = await build(h, ws, [], [h.home!(ws), h.agent(ws)]);
    expect(first.error).toBeUndefined();
    const w = await h.driver.exec(containerName(ws, "main"), ["sh", "-c", "echo kept-across-replacement > /home/dev/notes.txt && ls -ln /home/dev/notes.txt"]);
    expect(w.exitCode).toBe(0);
    const oldId = first.state[1]!.outputs.id;
    const second = await build(h, ws, first.state, [h.home!(ws), h.agent(ws, { env: { NEW: "1" } })]);
    expect(second.error).toBeUndefined();
    expect(second.state[1]!.outputs.id).not.toBe(oldId);
    await expect(h.driver.docker.getContainer(oldId as string).inspect()).rejects.toThrow();
    const read = await h.driver.exec(containerName(ws, "main"), ["cat", "/home/dev/notes.txt"]);
    expect(read).toMatchObject({ exitCode: 0, stdout: "kept-across-replacement\n" });
  });

  it("builds an image from the template folder's Dockerfile, streaming its output to the build log, and runs a container from it", async () => {
    const h = dockerHarness();
    const ws = newWs();
    const img = docker.image({ name: "App", context: "app", buildArgs: { GREETING: "hi" } });
    const c = docker.container({ image: img, agent: agent() });
    const r = await build(h, ws, [], [c, img]);
    expect(r.error).toBeUndefined();
    expect(r.lines).toContain("info: build step says hi-42");
    expect(r.lines.some((l) => /^info: Step 2\/\d+ : ARG GREETING=none$/.test(l))).toBe(true);
    const tag = imageTag(ws, "App");
    expect(tag).toBe(`outpost-${ws}-app:latest`);
    const image = await h.driver.docker.getImage(tag).inspect();
    expect(r.state[0]!.outputs).toMatchObject({ id: image.Id, tag });
    expect(image.Config.Labels?.[WORKSPACE_LABEL]).toBe(ws);
    const container = await h.driver.docker.getContainer(containerName(ws, "main")).inspect();
    expect(container.Image).toBe(image.Id);
    const out = await h.driver.exec(container.Id, ["sh", "-c", "cat /opt/greeting /opt/ctx/hello.txt; ls /opt/ctx"]);
    // The whole context folder was sent, less what .dockerignore names.
    expect(out.stdout).toBe("hi\ncopied from the template folder\nDockerfile\nhello.txt\n");
    expect((await h.driver.listByWorkspace(ws)).map((o) => o.kind).sort()).toEqual(["container", "image"]);
    const del = await build(h, ws, r.state, [], "delete");
    expect(del.error).toBeUndefined();
    expect(await h.driver.listByWorkspace(ws)).toEqual([]);
  });

  it("a failing Dockerfile fails the build with the engine's error, and leaves no image", async () => {
    const h = dockerHarness();
    const ws = newWs();
    const r = await build(h, ws, [], [docker.image({ name: "bad", context: "broken" })]);
    expect(r.error?.message).toMatch(/docker_image\.bad: build failed: .*returned a non-zero code: 3/);
    expect(r.lines).toContain("info: about to fail");
    expect(r.state).toEqual([]);
    expect((await h.driver.listByWorkspace(ws)).filter((o) => o.kind === "image")).toEqual([]);
    const outside = await build(h, ws, [], [docker.image({ name: "escape", context: "../.." })]);
    expect(outside.error?.message).toMatch(/build context "..\/.." is outside/);
  });

  it("a container whose command exits at once fails the build with its output, and is not left behind", async () => {
    const h = dockerHarness();
    const ws = newWs();
    const r = await build(h, ws, [], [docker.container({ image: IMAGE, command: ["sh", "-c", "echo cannot start >&2; exit 4"] })]);
    expect(r.error?.message).toMatch(/container outpost-.*-main exited at once \(code 4\):\ncannot start/);
    expect(r.state).toEqual([]);
    expect(await h.driver.listByWorkspace(ws)).toEqual([]);
  });

  it("a missing image is named in the error, never pulled", async () => {
    const h = dockerHarness();
    const ws = newWs();
    const r = await build(h, ws, [], [docker.container({ image: "outpost/not-here:1", agent: agent() })]);
    expect(r.error?.message).toMatch(/^image outpost\/not-here:1 is not on the Docker host \(images are not pulled/);
    expect(await h.driver.docker.getImage("outpost/not-here:1").inspect().catch(() => undefined)).toBeUndefined();
  });

  it("refuses to adopt or remove a volume that belongs to another workspace", async () => {
    const h = dockerHarness();
    const a = newWs();
    const b = newWs();
    const shared = docker.volume({ name: `outpost-${a}-shared` });
    expect((await build(h, a, [], [shared])).error).toBeUndefined();
    const other = await build(h, b, [], [shared]);
    expect(other.error?.message).toMatch(new RegExp(`belongs to workspace ${a}`));
    const ctx = makeCtx(b, "delete", h.templateDir);
    await expect(h.driver.delete(ctx, { address: addressOf(shared), resource: shared, outputs: {} })).rejects.toThrow(/does not belong/);
    await expect(h.driver.docker.getVolume(shared.name).inspect()).resolves.toMatchObject({ Name: shared.name });
  });
});

describe("docker driver without an engine", () => {
  it("check() and builds fail with DriverUnavailableError naming Docker and the socket", async () => {
    const driver = new DockerDriver({ socketPath: "/nonexistent/outpost-test/docker.sock" });
    const err = await driver.check().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DriverUnavailableError);
    expect((err as Error).message).toMatch(/^Docker engine is not reachable at \/nonexistent\/outpost-test\/docker\.sock: .*ENOENT.*\. Start dockerd or set DOCKER_HOST$/);
    const previous: ResourceState[] = [{ address: "docker_volume.v", resource: docker.volume({ name: "v" }), outputs: {} }];
    const r = await applyPlan({ actions: plan(previous, []), drivers: [driver], ctx: makeCtx("ws-x", "delete", os.tmpdir()) });
    expect(r.error).toBeInstanceOf(DriverUnavailableError);
    expect(r.state).toEqual(previous);
  });
});
