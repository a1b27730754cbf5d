// `outpost agent`: the workspace agent in this process, for workspaces of the process driver (which
// starts `node <this bundle> agent` with the agent's URL and token in its environment). Containers run
// the single-executable agent instead; both are packages/agent's runAgent.
import { AGENT_TOKEN_ENV, AGENT_URL_ENV } from "@outpost/sdk/agents";
import { createLogger, isLogLevel } from "@outpost/agent/logger";
import { runAgent } from "@outpost/agent/run";
import { CliError, type CliContext } from "../context.js";
import { parseSubArgs } from "../subcommands.js";

const LOG_LEVEL_ENV = "OUTPOST_AGENT_LOG_LEVEL";

const HELP = `Usage: outpost agent

Runs the workspace agent: dials the Outpost server and serves SSH, terminals and port forwarding for
the workspace it runs in, until SIGTERM or SIGINT. The provisioner starts it; you do not run it by hand.

Environment:
  ${AGENT_URL_ENV}         the server's URL (required)
  ${AGENT_TOKEN_ENV}       this agent's token (required)
  ${LOG_LEVEL_ENV}     debug | info | warn | error (default info)`;

export async function run(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: HELP, options: {} });
  if (a.help) return 0;
  const url = ctx.env[AGENT_URL_ENV]?.trim();
  const token = ctx.env[AGENT_TOKEN_ENV]?.trim();
  const missing = [!url && AGENT_URL_ENV, !token && AGENT_TOKEN_ENV].filter((m): m is string => Boolean(m));
  if (missing.length > 0) {
    throw new CliError(`${missing.join(" and ")} must be set`, ["the provisioner sets both when it starts a workspace: `outpost agent` is not meant to be run by hand"], 2);
  }
  const level = ctx.env[LOG_LEVEL_ENV]?.trim() || "info";
  if (!isLogLevel(level)) throw new CliError(`${LOG_LEVEL_ENV} must be debug, info, warn or error, got ${JSON.stringify(level)}`, [], 2);
  const log = createLogger({ level, write: (line) => ctx.io.err(line.replace(/\n$/, "")) });
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    log.info("received signal, shutting down", { signal });
    stop.abort();
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  // The terminal or SSH session of whoever started it by hand may close: the agent stays.
  const onHangup = () => log.info("ignoring SIGHUP");
  process.on("SIGHUP", onHangup);
  try {
    // Sessions run `outpost` (e.g. `outpost dotfiles`) with this same CLI.
    const outpostCommand = ctx.self ? [ctx.self.node, ctx.self.script] : undefined;
    await runAgent({ url: url!, token: token!, log, signal: stop.signal, env: { ...ctx.env }, ...(outpostCommand ? { outpostCommand } : {}) });
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    process.off("SIGHUP", onHangup);
  }
  return 0;
}
