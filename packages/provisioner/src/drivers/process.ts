import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import path from "node:path";
import { addressOf, type ProcessAgent, type Resource } from "@outpost/template/resources";
import type { ResourceState } from "../plan.js";
import { abortError, checkWorkspaceId, errorMessage, sleep, specHash, throwIfAborted } from "./common.js";
import { DriverUnavailableError, type Driver, type DriverContext, type OrphanResource } from "./driver.js";

/** Environment markers on every process the driver starts (and everything those start): the
 *  process driver's equivalent of container labels, read back from /proc/PID/environ. */
export const PROCESS_WORKSPACE_ENV = "OUTPOST_WORKSPACE_ID";
export const PROCESS_RESOURCE_ENV = "OUTPOST_RESOURCE";
export const PROCESS_SPEC_ENV = "OUTPOST_SPEC_HASH";

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface ProcessDriverOptions {
  /** Workspaces live in `<dataDir>/workspaces/<workspaceId>`. */
  dataDir: string;
  /** Base environment for agent processes (this package reads no process.env). Default: PATH only. */
  env?: Record<string, string>;
  /** How long a stopped agent gets between SIGTERM and SIGKILL. Default 5000 ms. */
  killGraceMs?: number;
  /** The agent's command line, e.g. `[node, cli, "agent"]` (`outpost agent`); it reads its URL and token from the environment. */
  agentCommand?: string[];
}

interface ProcInfo {
  pid: number;
  pgid: number;
  env: Map<string, string>;
}

/**
 * `process_agent` resources: the workspace is a host directory, `<dataDir>/workspaces/<id>`, and the
 * agent a detached host process (its own process group) started in it with the agent's environment,
 * running the agent command (`outpost agent`). Needs no Docker: the embedded default.
 *
 * Stop deletes the process_agent resource: the process group is killed, the directory stays. A
 * "delete" build ends with deleteWorkspace(), which removes the directory, also after a stop.
 * Processes carry PROCESS_*_ENV markers, so create adopts a running agent with the same spec and
 * listByWorkspace finds strays the recorded state no longer knows about.
 */
export class ProcessDriver implements Driver {
  readonly name = "process";
  readonly types = ["process_agent"] as const satisfies readonly Resource["type"][];
  private readonly dataDir: string;
  private readonly baseEnv: Record<string, string>;
  private readonly killGraceMs: number;
  private readonly agentCommand: string[] | undefined;

  constructor(opts: ProcessDriverOptions) {
    this.agentCommand = opts.agentCommand;
    this.dataDir = path.resolve(opts.dataDir);
    this.baseEnv = opts.env ?? { PATH: DEFAULT_PATH };
    this.killGraceMs = opts.killGraceMs ?? 5000;
  }

  /** The workspace directory (exists from the first create until the workspace is deleted). */
  workspaceDir(workspaceId: string): string {
    checkWorkspaceId(workspaceId);
    return path.join(this.dataDir, "workspaces", workspaceId);
  }

  async check(): Promise<void> {
    if (process.platform !== "linux") throw new DriverUnavailableError(`the process driver needs Linux (this is ${process.platform})`);
    if (!this.agentCommand?.length) throw new DriverUnavailableError("the process driver has no agent command (run the provisioner from the outpost CLI, which starts `outpost agent`)");
    const dir = path.join(this.dataDir, "workspaces");
    try {
      await fs.mkdir(dir, { recursive: true });
      await fs.access(dir, fs.constants.W_OK);
      await fs.access("/proc/self/environ", fs.constants.R_OK);
    } catch (err) {
      throw new DriverUnavailableError(`the process driver cannot use its workspace directory ${dir}: ${errorMessage(err)}`);
    }
  }

  async create(ctx: DriverContext, resource: Resource): Promise<Record<string, unknown>> {
    const r = asProcessAgent(resource);
    const address = addressOf(r);
    const dir = this.workspaceDir(ctx.workspaceId);
    throwIfAborted(ctx.signal);
    const stateDir = path.join(dir, ".outpost");
    await fs.mkdir(stateDir, { recursive: true });
    // Relative (or no) agent.dir: inside the workspace directory. Absolute: that host directory.
    const cwd = r.agent.dir ? path.resolve(dir, r.agent.dir) : dir;
    await fs.mkdir(cwd, { recursive: true });
    const agentEnv = ctx.agentEnv(r.agent);
    const hash = specHash({ resource: r, agentEnv, cwd, baseEnv: this.baseEnv });
    const agentLog = path.join(stateDir, `agent-${r.name}.log`);
    const outputs = (pid: number) => ({ pid, dir, cwd, agentLog });

    const running = groups(await this.scan(ctx.workspaceId, address));
    if (running.length === 1 && running[0]!.env.get(PROCESS_SPEC_ENV) === hash) {
      ctx.log("info", `process: adopted running agent ${address} (pid ${running[0]!.pgid})`);
      return outputs(running[0]!.pgid);
    }
    if (running.length > 0) {
      ctx.log("info", `process: stopping ${running.length} stale process group(s) for ${address}`);
      await this.killGroups(running.map((p) => p.pgid), ctx.signal);
    }

    const env: Record<string, string> = {
      ...this.baseEnv,
      HOME: dir,
      ...r.agent.env,
      ...agentEnv,
      [PROCESS_WORKSPACE_ENV]: ctx.workspaceId,
      [PROCESS_RESOURCE_ENV]: address,
      [PROCESS_SPEC_ENV]: hash,
    };
    if (!this.agentCommand?.length) throw new DriverUnavailableError("the process driver has no agent command");
    const [cmd, ...args] = this.agentCommand;
    const out = await fs.open(agentLog, "a");
    let pid: number;
    try {
      const child = spawn(cmd!, args, { cwd, env, detached: true, stdio: ["ignore", out.fd, out.fd] });
      const exited = once(child, "exit").then(([code, sig]) => ({ code: code as number | null, sig: sig as string | null }));
      exited.catch(() => {});
      await Promise.race([once(child, "spawn"), once(child, "error").then(([e]) => Promise.reject(e as Error))]);
      pid = child.pid!;
      child.unref();
      // An agent that dies at once (bad directory, missing shell) fails the build, not later.
      const early = await Promise.race([exited, sleep(150).then(() => undefined)]);
      if (early) throw new Error(`agent process for ${address} exited at once (${early.sig ? `signal ${early.sig}` : `code ${early.code}`}); see ${agentLog}`);
    } finally {
      await out.close();
    }
    ctx.log("info", `process: started agent ${address} (pid ${pid}) in ${cwd}`);
    return outputs(pid);
  }

  /** Nothing about a process changes in place: the agent is restarted with the new spec. */
  async update(ctx: DriverContext, resource: Resource, previous: ResourceState): Promise<Record<string, unknown>> {
    await this.delete(ctx, previous);
    return this.create(ctx, resource);
  }

  async delete(ctx: DriverContext, previous: ResourceState): Promise<void> {
    checkWorkspaceId(ctx.workspaceId);
    // By marker, not by the recorded pid alone: the pid may have been reused, or the state lost.
    const running = groups(await this.scan(ctx.workspaceId, previous.address));
    if (running.length === 0) {
      ctx.log("info", `process: ${previous.address} is not running`);
      return;
    }
    ctx.log("info", `process: stopping ${previous.address} (pid ${running.map((p) => p.pgid).join(", ")})`);
    await this.killGroups(
      running.map((p) => p.pgid),
      ctx.signal,
    );
  }

  /** Kills whatever still runs for the workspace, then removes its directory. */
  async deleteWorkspace(ctx: DriverContext): Promise<void> {
    const dir = this.workspaceDir(ctx.workspaceId);
    const strays = groups(await this.scan(ctx.workspaceId));
    if (strays.length > 0) {
      ctx.log("warn", `process: stopping ${strays.length} leftover process group(s) of the workspace`);
      await this.killGroups(strays.map((p) => p.pgid), ctx.signal);
    }
    try {
      await fs.access(dir);
    } catch {
      return;
    }
    ctx.log("info", `process: removing workspace directory ${dir}`);
    await fs.rm(dir, { recursive: true, force: true });
  }

  async listByWorkspace(workspaceId: string): Promise<OrphanResource[]> {
    const dir = this.workspaceDir(workspaceId);
    const found: OrphanResource[] = [];
    try {
      if ((await fs.stat(dir)).isDirectory()) found.push({ kind: "directory", id: dir, name: workspaceId });
    } catch {
      // no directory
    }
    for (const p of groups(await this.scan(workspaceId))) found.push({ kind: "process", id: String(p.pgid), name: p.env.get(PROCESS_RESOURCE_ENV) ?? "" });
    return found;
  }

  /** Live (non-zombie) processes carrying the workspace's markers (and the address's, if given). */
  private async scan(workspaceId: string, address?: string): Promise<ProcInfo[]> {
    const self = await ownGroup();
    const found: ProcInfo[] = [];
    for (const entry of await fs.readdir("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      let environ: string;
      let stat: { pgid: number; state: string } | undefined;
      try {
        environ = await fs.readFile(`/proc/${entry}/environ`, "latin1");
        if (!environ.includes(`${PROCESS_WORKSPACE_ENV}=${workspaceId}\u0000`)) continue;
        stat = await readStat(Number(entry));
      } catch {
        continue; // gone, or not ours to read
      }
      if (!stat || stat.state === "Z" || stat.pgid === self) continue;
      const env = new Map(
        environ
          .split("\u0000")
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const),
      );
      if (env.get(PROCESS_WORKSPACE_ENV) !== workspaceId) continue;
      if (address !== undefined && env.get(PROCESS_RESOURCE_ENV) !== address) continue;
      found.push({ pid: Number(entry), pgid: stat.pgid, env });
    }
    return found;
  }

  /**
   * SIGTERM to each process group, SIGKILL to what is left after the grace period. When ctx.signal
   * aborts during the grace period, SIGKILL goes out at once and the abort error is thrown.
   */
  private async killGroups(pgids: number[], signal: AbortSignal): Promise<void> {
    const targets = [...new Set(pgids)];
    for (const g of targets) sendGroup(g, "SIGTERM");
    let aborted = false;
    const deadline = Date.now() + this.killGraceMs;
    while (Date.now() < deadline && (await anyAlive(targets))) {
      if (signal.aborted) {
        aborted = true;
        break;
      }
      await sleep(50);
    }
    if (await anyAlive(targets)) {
      for (const g of targets) sendGroup(g, "SIGKILL");
      const killDeadline = Date.now() + 3000;
      while (Date.now() < killDeadline && (await anyAlive(targets))) await sleep(25);
      if (await anyAlive(targets)) throw new Error(`process group(s) ${targets.join(", ")} survived SIGKILL`);
    }
    if (aborted) throw abortError(signal);
  }
}

function asProcessAgent(resource: Resource): ProcessAgent {
  if (resource.type !== "process_agent") throw new Error(`the process driver does not handle ${resource.type}`);
  return resource;
}

/** One entry per process group (its leader when the leader still runs). */
function groups(procs: ProcInfo[]): ProcInfo[] {
  const byGroup = new Map<number, ProcInfo>();
  for (const p of procs) {
    const seen = byGroup.get(p.pgid);
    if (!seen || p.pid === p.pgid) byGroup.set(p.pgid, p);
  }
  return [...byGroup.values()];
}

async function readStat(pid: number): Promise<{ pgid: number; state: string } | undefined> {
  const text = await fs.readFile(`/proc/${pid}/stat`, "latin1");
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const pgid = Number(fields[2]);
  return Number.isInteger(pgid) ? { state: fields[0] ?? "", pgid } : undefined;
}

let ownPgid: number | undefined;
async function ownGroup(): Promise<number> {
  ownPgid ??= (await readStat(process.pid))?.pgid ?? -1;
  return ownPgid;
}

function sendGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // already gone
  }
}

/** A group is alive while a member other than a zombie is in it (zombies wait for a reaper we may not be). */
async function anyAlive(pgids: number[]): Promise<boolean> {
  const candidates = pgids.filter((g) => {
    try {
      process.kill(-g, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  });
  if (candidates.length === 0) return false;
  const wanted = new Set(candidates);
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const st = await readStat(Number(entry));
      if (st && wanted.has(st.pgid) && st.state !== "Z") return true;
    } catch {
      // gone
    }
  }
  return false;
}
