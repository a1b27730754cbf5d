// What `outpost ssh` and `outpost port-forward` do before connecting: find the workspace, start it
// when it is stopped (asking first), and wait until the chosen agent is connected (and ready, when
// its startup script blocks logins), naming the stage while waiting.
import type { WorkspaceAgent } from "@outpost/sdk/agents";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { Workspace } from "@outpost/sdk/workspaces";
import { CliError, type CliContext } from "./context.js";
import { progress, type Progress } from "./progress.js";
import { confirm, runBuild, workspaceLabel } from "./workspace-helpers.js";
import type { WorkspaceTarget } from "./workspace-target.js";

export interface WaitOptions {
  /** Wait for a blocking startup script to end (false: connect as soon as the agent is). */
  waitForStartup: boolean;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ReadyAgent {
  ws: Workspace;
  agent: WorkspaceAgent;
}

/** The agent a target names: its `.agent`, or the workspace's only one. Undefined: none yet. */
export function pickAgent(ws: Workspace, target: WorkspaceTarget): WorkspaceAgent | undefined {
  const names = ws.agents.map((a) => a.name);
  if (target.agent !== undefined) {
    const found = ws.agents.find((a) => a.name === target.agent);
    if (!found && ws.agents.length > 0) throw new CliError(`workspace ${workspaceLabel(ws)} has no agent named ${target.agent}`, [`its agents: ${names.join(", ")}`]);
    return found;
  }
  if (ws.agents.length > 1) {
    throw new CliError(`workspace ${workspaceLabel(ws)} has ${ws.agents.length} agents: say which one`, [`its agents: ${names.join(", ")}`, `e.g. ${workspaceLabel(ws)}.${names[0]}`], 2);
  }
  return ws.agents[0];
}

const START_HINT = (label: string) => `start it with \`outpost start ${label}\``;

/** A stopped workspace is started (after asking, on a terminal); other states that cannot become usable fail. */
async function ensureStarted(ctx: CliContext, client: FleetClient, ws: Workspace): Promise<Workspace> {
  const label = workspaceLabel(ws);
  if (ws.status === "stopped" || ws.status === "canceled") {
    if (!ctx.io.interactive) throw new CliError(`workspace ${label} is ${ws.status}; ${START_HINT(label)}`);
    if (!(await confirm(ctx, `Workspace ${label} is ${ws.status}. Start it?`, { defaultYes: true, what: "start the workspace" }))) {
      throw new CliError(`workspace ${label} is ${ws.status}; ${START_HINT(label)}`);
    }
    await runBuild(ctx, client, ws, { transition: "start", parameters: {} }, true);
    return client.workspace(ws.id);
  }
  return ws;
}

function unusable(ws: Workspace): CliError | undefined {
  const label = workspaceLabel(ws);
  const b = ws.latest_build;
  switch (ws.status) {
    case "failed":
      return new CliError(`workspace ${label} is failed: build #${b.build_number} (${b.transition}) failed`, [`see \`outpost logs ${label}\`; ${START_HINT(label)} to try again`]);
    case "stopping":
    case "stopped":
    case "canceling":
    case "canceled":
      return new CliError(`workspace ${label} is ${ws.status}; ${START_HINT(label)}`);
    case "deleting":
    case "deleted":
      return new CliError(`workspace ${label} is ${ws.status}`);
    default:
      return undefined;
  }
}

function describeAgent(a: WorkspaceAgent): string {
  if (a.status === "connecting") return `waiting for agent ${a.name} to connect`;
  if (a.status === "timeout") return `waiting for agent ${a.name} to connect (longer than its ${a.connection_timeout_seconds}s timeout: is it running? see \`outpost show\`)`;
  if (a.status === "disconnected") return `waiting for agent ${a.name} to reconnect`;
  return "startup script running";
}

/**
 * Resolves the workspace and waits until the target's agent can take connections. Stages: the build,
 * the agent connecting, its startup script (when blocking). A startup script that failed or ran out
 * of time is a warning, not an error: the agent still serves, which is how one finds out why.
 */
export async function waitForAgent(ctx: CliContext, client: FleetClient, target: WorkspaceTarget, opts: WaitOptions): Promise<ReadyAgent> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let ws = await ensureStarted(ctx, client, await client.workspaceByName(target.owner, target.name));
  const shown: Progress = progress(ctx.io);
  try {
    for (;;) {
      const refusal = unusable(ws);
      if (refusal) throw refusal;
      if (ws.status === "pending" || ws.status === "starting") {
        shown.stage(ws.latest_build.job.status === "pending" ? "waiting for the build (queued for a provisioner)" : "waiting for the build");
      } else {
        const agent = pickAgent(ws, target);
        if (!agent) {
          if (target.agent !== undefined || ws.agents.length === 0) throw new CliError(`workspace ${workspaceLabel(ws)} has no agent${target.agent ? ` named ${target.agent}` : ""}`, ["its template declares none, so there is nothing to connect to"]);
        } else if (agent.status === "connected") {
          const startup = agent.lifecycle_state === "created" || agent.lifecycle_state === "starting";
          if (agent.lifecycle_state === "start_error") shown.note(`warning: the startup script of agent ${agent.name} failed; see \`outpost logs ${workspaceLabel(ws)}\``);
          if (agent.lifecycle_state === "start_timeout") shown.note(`warning: the startup script of agent ${agent.name} is taking longer than its timeout; see \`outpost logs ${workspaceLabel(ws)}\``);
          if (!startup || agent.startup_script_behavior === "non-blocking" || !opts.waitForStartup) return { ws, agent };
          shown.stage(describeAgent(agent));
        } else {
          shown.stage(describeAgent(agent));
        }
      }
      await sleep(opts.pollMs ?? 500);
      ws = await client.workspace(ws.id);
    }
  } finally {
    shown.stop();
  }
}
