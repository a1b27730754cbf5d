import fs from "node:fs/promises";
import path from "node:path";
import { FleetClient } from "@outpost/sdk/client-fleet";
import { runDaemon, type DaemonLogger } from "./daemon.js";
import { DockerDriver } from "./drivers/docker.js";
import { ProcessDriver } from "./drivers/process.js";

export interface BuiltinDaemonOptions {
  url: string;
  key: string;
  count: number;
  dataDir: string;
  dockerSocket: string;
  logger: DaemonLogger;
  /** How the process driver starts an agent (`[node, cli, "agent"]`). */
  agentCommand?: string[];
  /** The agent binary the docker driver bind-mounts into containers. */
  agentBinaryPath?: string;
}

/** Runs `count` daemons in this process (the server's own); returns a function that stops them. */
export async function startBuiltinDaemons(opts: BuiltinDaemonOptions): Promise<() => Promise<void>> {
  const stop = new AbortController();
  const client = new FleetClient({ url: opts.url, provisionerKey: opts.key });
  await fs.mkdir(path.join(opts.dataDir, "provisioner"), { recursive: true });
  const drivers = [new ProcessDriver({ dataDir: opts.dataDir, ...(opts.agentCommand ? { agentCommand: opts.agentCommand } : {}) }),
    new DockerDriver({ socketPath: opts.dockerSocket, ...(opts.agentBinaryPath ? { agentBinaryPath: opts.agentBinaryPath } : {}) }),
  ];
  const running = Array.from({ length: opts.count }, (_, i) =>
    runDaemon({ client, name: `built-in-${i + 1}`, drivers, signal: stop.signal, logger: opts.logger, workDir: path.join(opts.dataDir, "provisioner") }),
  );
  return async () => {
    stop.abort();
    await Promise.allSettled(running);
  };
}
