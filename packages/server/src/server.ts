import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import { withListeningPort, type ServerConfig } from "./config.js";
import { readBuildInfo } from "./build-info.js";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./db/embedded-postgres.js";
import { migrate } from "./db/migrate.js";
import { createPool } from "./db/pool.js";
import { PubSub } from "./db/pubsub.js";
import { randomBytes } from "node:crypto";
import { buildApp, closeApp, type HttpApp } from "./http/app.js";
import { allRoutes } from "./http/routes.js";
import type { Deps } from "./services/deps.js";
import { RateLimiter } from "./services/rate-limit.js";
import { failHungJobs } from "./services/provisioner-jobs.js";
import { AgentConnections } from "./services/agent-conns.js";
import { AgentBinary } from "./services/agent-binary.js";

export interface RunningServer {
  url: string;
  app: HttpApp;
  deps: Deps;
  close(): Promise<void>;
}

export interface StartOptions {
  config: ServerConfig;
  logger: Logger;
  clock: Clock;
  /** Reports start-up stages to whoever is watching (the CLI prints them). */
  onStage?: (stage: string) => void;
}

/** Brings up the database (embedded unless a URL is configured), migrates, and listens. */
export async function startServer({ config, logger, clock, onStage }: StartOptions): Promise<RunningServer> {
  let embedded: EmbeddedPostgres | undefined;
  let pgUrl = config.pgConnectionUrl;
  if (!pgUrl) {
    onStage?.("starting embedded PostgreSQL");
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, rootFallbackDir: config.embeddedPgRoot, logger });
    pgUrl = embedded.url;
  }
  const db = createPool(pgUrl);
  try {
    onStage?.("applying migrations");
    const applied = await migrate(db);
    if (applied.length) logger.info({ applied }, "migrations applied");
    const pubsub = await PubSub.start(pgUrl, logger);
    const agentConns = new AgentConnections({ db, logger, clock, pubsub });
    await agentConns.start();
    const deps: Deps = {
      db,
      logger,
      clock,
      config,
      loginLimiter: new RateLimiter(clock),
      buildInfo: readBuildInfo(),
      pubsub,
      agentConns,
      agentBinary: new AgentBinary(config.agentBinaryPath),
      builtinProvisionerKey: `builtin-${randomBytes(24).toString("base64url")}`,
    };
    const app = await buildApp(deps, { routes: allRoutes() });
    onStage?.("listening");
    await app.listen({ host: config.httpAddress.host, port: config.httpAddress.port });
    const addr = app.server.address();
    const port = typeof addr === "object" && addr ? addr.port : config.httpAddress.port;
    const host = config.httpAddress.host.includes(":") ? `[${config.httpAddress.host}]` : config.httpAddress.host;
    const url = config.httpAddress.port === 0 ? `http://${host}:${port}` : config.accessUrl;
    deps.config = withListeningPort(config, port);
    // The hung-job detector: every replica runs it; failing a job twice is a no-op.
    const hungTimer = setInterval(() => {
      failHungJobs(deps, config.provisionerHeartbeatTimeoutMs).catch((err) => logger.warn({ err }, "hung job detector"));
    }, Math.min(30_000, config.provisionerHeartbeatTimeoutMs / 2));
    hungTimer.unref();
    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        clearInterval(hungTimer);
        // Agents first: their disconnects are recorded while the database is still there.
        await agentConns.close();
        await closeApp(app).catch((err) => logger.warn({ err }, "closing HTTP server"));
        await pubsub.close();
        await db.end().catch(() => undefined);
        await embedded?.stop();
      })());
    return { url, app, deps, close };
  } catch (err) {
    await db.end().catch(() => undefined);
    await embedded?.stop();
    throw err;
  }
}
