import { systemClock } from "./clock.js";
import { ConfigError, loadConfig, renderConfigDocs, renderHelp } from "./config.js";
import { createLogger } from "./logger.js";
import { startServer, type RunningServer } from "./server.js";

export interface ServerIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** What runs beside the server in the same process (the built-in provisioner daemons); returns its stopper. */
export type Companion = (server: RunningServer) => Promise<() => Promise<void>>;

/** `outpost server`: runs until SIGINT/SIGTERM, then shuts PostgreSQL down cleanly. Returns the exit code. */
export async function runServerCommand(argv: string[], io: ServerIo, companion?: Companion): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(renderHelp());
    return 0;
  }
  if (argv.includes("--print-config-docs")) {
    io.out(renderConfigDocs());
    return 0;
  }
  let config;
  try {
    config = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`outpost server: ${err.message}`);
      io.err("Run `outpost server --help` for the options.");
      return 2;
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  // Signals are ours from here on: one arriving while PostgreSQL or the daemons start (a service
  // manager stopping us early) must still end in a clean shutdown, not leave PostgreSQL running.
  let requested: string | undefined;
  let onSignal: ((signal: string) => void) | undefined;
  const catchSignal = (signal: string) => () => (onSignal ? onSignal(signal) : (requested ??= signal));
  process.once("SIGINT", catchSignal("SIGINT"));
  process.once("SIGTERM", catchSignal("SIGTERM"));
  let server;
  try {
    server = await startServer({ config, logger, clock: systemClock, onStage: (s) => io.err(`==> ${s}`) });
  } catch (err) {
    io.err(`outpost server: failed to start: ${(err as Error).message}`);
    return 1;
  }
  const stopCompanion = companion ? await companion(server) : async () => undefined;
  io.out("");
  io.out(`Outpost is running at ${server.url}`);
  io.out("");
  io.out("Create the first user (the site owner) with:");
  io.out(`  npx outpost login ${server.url}`);
  io.out("");
  io.out("Press Ctrl-C to stop.");
  return new Promise<number>((resolve) => {
    const stop = async (signal: string) => {
      io.err(`==> ${signal}: shutting down`);
      await stopCompanion();
      await server.close();
      io.err("==> stopped");
      resolve(0);
    };
    onSignal = (signal) => void stop(signal);
    if (requested) onSignal(requested);
  });
}
