import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { FakeClock } from "../../src/clock.js";
import { parseConfig, withListeningPort, type ServerConfig } from "../../src/config.js";
import { buildApp, closeApp } from "../../src/http/app.js";
import { allRoutes } from "../../src/http/routes.js";
import { silentLogger } from "../../src/logger.js";
import type { Deps } from "../../src/services/deps.js";
import { RateLimiter } from "../../src/services/rate-limit.js";
import { PubSub } from "../../src/db/pubsub.js";
import { AgentConnections } from "../../src/services/agent-conns.js";
import { AgentBinary } from "../../src/services/agent-binary.js";
import { createTestDatabase } from "./test-db.js";

export interface TestServer {
  app: FastifyInstance;
  deps: Deps;
  clock: FakeClock;
  /** Base URL when started with `listen: true`. */
  url: string;
  close(): Promise<void>;
  /** inject() with an optional session token. */
  request(opts: InjectOptions & { token?: string }): Promise<LightMyRequestResponse>;
}

export interface TestServerOptions {
  env?: Record<string, string>;
  listen?: boolean;
}

/** A whole server on its own real database: fastify inject by default, a real port with `listen`. */
export async function createTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const config: ServerConfig = parseConfig({ argv: [], env: { OUTPOST_HTTP_ADDRESS: "127.0.0.1:0", ...opts.env }, home: "/nonexistent" });
  const clock = new FakeClock(new Date());
  const pubsub = await PubSub.start(database.url, silentLogger());
  const agentConns = new AgentConnections({ db: database.db, logger: silentLogger(), clock, pubsub });
  await agentConns.start();
  const deps: Deps = {
    db: database.db,
    logger: silentLogger(),
    clock,
    config,
    loginLimiter: new RateLimiter(clock),
    buildInfo: { version: "0.0.0-test", commit: "test", api_version: "v2" },
    pubsub,
    agentConns,
    agentBinary: new AgentBinary(config.agentBinaryPath),
    builtinProvisionerKey: "builtin-test-provisioner-key",
  };
  const app = await buildApp(deps, { routes: allRoutes() });
  let url = "";
  if (opts.listen) {
    await app.listen({ host: "127.0.0.1", port: 0 });
    const addr = app.server.address();
    url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
    // What agents and messages should name: the port actually bound.
    if (!opts.env?.OUTPOST_ACCESS_URL) config.accessUrl = url;
    deps.config = withListeningPort(config, typeof addr === "object" && addr ? addr.port : 0);
  } else {
    await app.ready();
  }
  return {
    app,
    deps,
    clock,
    url,
    close: async () => {
      await agentConns.close();
      await closeApp(app);
      await pubsub.close();
      await database.drop();
    },
    request: ({ token, headers, ...rest }) =>
      app.inject({ ...rest, headers: { ...(headers ?? {}), ...(token ? { "outpost-session-token": token } : {}) } }),
  };
}

export const OWNER = { email: "owner@example.com", username: "owner", password: "Correct-horse-9" };

/** Creates the first user and logs in; returns the owner's session token. */
export async function setupOwner(s: TestServer): Promise<string> {
  const created = await s.request({ method: "POST", url: "/api/v2/users/first", payload: OWNER });
  if (created.statusCode !== 201) throw new Error(`first user: ${created.statusCode} ${created.body}`);
  return login(s, OWNER.email, OWNER.password);
}

export async function login(s: TestServer, email: string, password: string): Promise<string> {
  const res = await s.request({ method: "POST", url: "/api/v2/users/login", payload: { email, password } });
  if (res.statusCode !== 201) throw new Error(`login ${email}: ${res.statusCode} ${res.body}`);
  return (res.json() as { session_token: string }).session_token;
}

/** Creates a user with the given roles (as the owner) and returns a session token for them. */
export async function createUserWithRoles(s: TestServer, ownerToken: string, username: string, roles: string[]): Promise<{ id: string; token: string }> {
  const password = "Member-pass-42";
  const res = await s.request({
    method: "POST",
    url: "/api/v2/users",
    token: ownerToken,
    payload: { email: `${username}@example.com`, username, password, roles },
  });
  if (res.statusCode !== 201) throw new Error(`create ${username}: ${res.statusCode} ${res.body}`);
  return { id: (res.json() as { id: string }).id, token: await login(s, `${username}@example.com`, password) };
}
