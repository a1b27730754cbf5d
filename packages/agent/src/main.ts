// Entry point of the workspace agent executable (bundled into the single executable by
// scripts/build-agent.mjs). The only agent file that reads process.env.
//
//   outpost-agent [run]      the daemon: OUTPOST_AGENT_URL, OUTPOST_AGENT_TOKEN (required),
//                            OUTPOST_AGENT_LOG_LEVEL (debug | info | warn | error, default info)
//   outpost-agent dotfiles REPO   (also `outpost dotfiles` in sessions: the agent's shim runs this binary)
//   outpost-agent --version
//   outpost-agent --self-test
//
// SIGTERM / SIGINT shut it down gracefully (exit 0); a second one exits at once. The handlers are
// explicit because as PID 1 in a container the kernel ignores signals without one.
import pkg from "@outpost/agent/package.json" with { type: "json" };
import { createLogger, isLogLevel } from "./logger.js";

const AGENT_VERSION: string = pkg.version;

const LOG_LEVEL_ENV = "OUTPOST_AGENT_LOG_LEVEL";

/** The sdk's constants come with its zod schemas (tens of ms to load): only commands that need them pay. */
const sdkAgents = () => import("@outpost/sdk/agents");

async function usage(): Promise<string> {
  const { AGENT_TOKEN_ENV, AGENT_URL_ENV } = await sdkAgents();
  return `usage: outpost-agent [run] | dotfiles REPO | --version | --self-test

The Outpost workspace agent: dials the Outpost server and serves SSH, terminals and port forwarding
for this workspace. Environment:
  ${AGENT_URL_ENV}      the server's URL (required)
  ${AGENT_TOKEN_ENV}    this agent's token (required; the provisioner sets both)
  ${LOG_LEVEL_ENV}  debug | info | warn | error (default info)
`;
}

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === "--version" || command === "version") {
    process.stdout.write(`outpost-agent ${AGENT_VERSION}\n`);
    return 0;
  }
  if (command === "--self-test") {
    const { selfTest } = await import("./sea-self-test.js");
    await selfTest();
    return 0;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(await usage());
    return 0;
  }
  if (command === "dotfiles") return dotfiles(argv.slice(1));
  if (command !== undefined && command !== "run") {
    process.stderr.write(`outpost-agent: unknown command ${JSON.stringify(command)}\n${await usage()}`);
    return 2;
  }
  return run();
}

async function run(): Promise<number> {
  const { AGENT_TOKEN_ENV, AGENT_URL_ENV } = await sdkAgents();
  const env = process.env;
  const url = env[AGENT_URL_ENV]?.trim();
  const token = env[AGENT_TOKEN_ENV]?.trim();
  const missing = [!url && AGENT_URL_ENV, !token && AGENT_TOKEN_ENV].filter(Boolean);
  if (missing.length > 0) {
    process.stderr.write(`outpost-agent: ${missing.join(" and ")} must be set (the provisioner sets both when it starts a workspace)\n`);
    return 2;
  }
  const level = env[LOG_LEVEL_ENV]?.trim() || "info";
  if (!isLogLevel(level)) {
    process.stderr.write(`outpost-agent: ${LOG_LEVEL_ENV} must be debug, info, warn or error, got ${JSON.stringify(level)}\n`);
    return 2;
  }
  const log = createLogger({ level });
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      log.warn("second signal: exiting now", { signal });
      process.exit(1);
    }
    log.info("received signal, shutting down", { signal });
    stop.abort();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // A closed terminal or SSH session of whoever started the agent by hand must not kill it.
  process.on("SIGHUP", () => log.info("ignoring SIGHUP"));
  // One failed promise somewhere must not take SSH away from the whole workspace.
  process.on("unhandledRejection", (err) => log.error("unhandled rejection (a bug; the agent keeps running)", { error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  // Loaded here, not at the top: ssh2, node-pty and the rest cost time `--version` need not pay.
  const { runAgent } = await import("./run.js");
  await runAgent({ url: url!, token: token!, log, signal: stop.signal, env: { ...env }, outpostCommand: [process.execPath] });
  return 0;
}

async function dotfiles(argv: string[]): Promise<number> {
  const { DotfilesError, runDotfiles } = await import("./dotfiles.js");
  const env = process.env;
  const home = env.HOME || (await import("node:os")).homedir();
  const configDir = env.OUTPOST_CONFIG_DIR || `${home}/.config/outpost`;
  try {
    return await runDotfiles({ argv, env: { ...env }, home, configDir, out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) });
  } catch (err) {
    if (!(err instanceof DotfilesError)) throw err;
    process.stderr.write(`error: ${err.message}\n${err.hints.map((h) => `  ${h}\n`).join("")}`);
    return err.exitCode;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`outpost-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
