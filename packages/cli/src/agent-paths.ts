import path from "node:path";
import type { CliContext } from "./context.js";

/**
 * How this installation starts workspace agents: the process driver runs `outpost agent` with this
 * same node and CLI bundle; the docker driver mounts the single-executable agent built next to it
 * (packages/agent/dist, made by scripts/build-agent.mjs during `npm ci`).
 */
export function agentLaunch(ctx: Pick<CliContext, "self">): { agentCommand?: string[]; agentBinaryPath?: string } {
  if (!ctx.self) return {};
  const packagesDir = path.resolve(path.dirname(ctx.self.script), "../..");
  return {
    agentCommand: [ctx.self.node, ctx.self.script, "agent"],
    agentBinaryPath: path.join(packagesDir, "agent", "dist", "outpost-agent-linux-amd64"),
  };
}
