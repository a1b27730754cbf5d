import type { Logger } from "pino";
import type { ServerConfig } from "../config.js";
import type { Clock } from "../clock.js";
import type { Db } from "../db/pool.js";
import type { PubSub } from "../db/pubsub.js";
import type { BuildInfo } from "@outpost/sdk/buildinfo";
import type { RateLimiter } from "./rate-limit.js";
import type { AgentConnections } from "./agent-conns.js";
import type { AgentBinary } from "./agent-binary.js";

/** What every service needs, passed in explicitly (no module-level singletons). */
export interface Deps {
  db: Db;
  logger: Logger;
  clock: Clock;
  config: ServerConfig;
  loginLimiter: RateLimiter;
  buildInfo: BuildInfo;
  pubsub: PubSub;
  /** The agents connected to this server instance (and the client relays through them). */
  agentConns: AgentConnections;
  /** The agent executable served at /bin (config.agentBinaryPath). */
  agentBinary: AgentBinary;
  /** In-memory key the server's built-in provisioner daemons use; never stored. */
  builtinProvisionerKey: string;
}
