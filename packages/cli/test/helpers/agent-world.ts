// A real server with workspaces whose agents the test runs itself: a test provisioner daemon builds
// them and reports a token per agent (as the real daemon does), and `startAgent` runs the real agent
// (runAgent) in this process with that token. The CLI runs as a child process, logged in as the owner.
import fs from "node:fs/promises";
import path from "node:path";
import { createLogger } from "@outpost/agent/logger";
import { runAgent } from "@outpost/agent/run";
import type { WorkspaceAgent } from "@outpost/sdk/agents";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import type { Workspace } from "@outpost/sdk/workspaces";
import { userClient } from "../../../server/test/helpers/fleet.js";
import { createTestServer, setupOwner, type TestServer } from "../../../server/test/helpers/test-server.js";
import { cliSandbox, ensureCliBuilt, type CliSandbox } from "./run-cli.js";
import { TestDaemon } from "./test-daemon.js";

/** One agent "main" with a blocking startup script (failing with `fail=true`) and a metadata item. */
export const AGENTED = `import { agent, defineTemplate, param, processDriver } from "@outpost/template";
export default defineTemplate({
  parameters: { fail: param.bool({ default: false }) },
  build({ workspace, params }) {
    const main = agent({
      startupScript: params.fail ? "echo about to fail\\nexit 3" : "echo hello from startup\\necho second line",
      startupScriptBehavior: "blocking",
      metadata: [{ key: "greeting", displayName: "Greeting", script: "echo hi there", interval: 1 }],
    });
    return [workspace.transition === "start" && processDriver.agent({ agent: main })];
  },
});
`;

/** Two agents, "main" and "side", without startup scripts. */
export const TWINS = `import { agent, defineTemplate, processDriver } from "@outpost/template";
export default defineTemplate({
  parameters: {},
  build({ workspace }) {
    if (workspace.transition !== "start") return [];
    return [processDriver.agent({ agent: agent() }), processDriver.agent({ name: "side", agent: agent({ name: "side" }) })];
  },
});
`;

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface AgentWorld {
  s: TestServer;
  cli: CliSandbox;
  owner: FleetClient;
  daemon: TestDaemon;
  /** Agents running in this process, by `WORKSPACE.AGENT`. */
  running: Map<string, { stop(): Promise<void> }>;
  /** Runs the agent `WORKSPACE.AGENT` with the token of its workspace's latest build. */
  startAgent(key: string): void;
  ws(name: string): Promise<Workspace>;
  /** The workspace's first agent. */
  agentOf(name: string): Promise<WorkspaceAgent | undefined>;
  readyAgent(name: string): Promise<WorkspaceAgent | undefined>;
  close(): Promise<void>;
}

/** Templates "agented" and "twins", and the workspaces given as [name, template, ...create flags]. */
export async function agentWorld(workspaces: (readonly string[])[]): Promise<AgentWorld> {
  await ensureCliBuilt();
  const s = await createTestServer({ listen: true });
  const token = await setupOwner(s);
  const owner = userClient(s, token);
  const daemon = await TestDaemon.register(s);
  daemon.reportAgents = true;
  const cli = await cliSandbox();
  const running = new Map<string, { stop(): Promise<void> }>();
  const r = await cli.run(["login", s.url, "--token", token]);
  if (r.code !== 0) throw new Error(`login: ${r.code} ${r.stderr}`);
  daemon.start();
  for (const [name, text] of [["agented", AGENTED], ["twins", TWINS]] as const) {
    await fs.mkdir(path.join(cli.home, name));
    await fs.writeFile(path.join(cli.home, name, "template.ts"), text);
    const pushed = await cli.run(["templates", "push", name, "-d", name, "-y"]);
    if (pushed.code !== 0) throw new Error(`push ${name}: ${pushed.code} ${pushed.stderr}`);
  }
  for (const [name, template, ...flags] of workspaces) {
    const created = await cli.run(["create", name!, "-t", template!, ...flags]);
    if (created.code !== 0) throw new Error(`create ${name}: ${created.code} ${created.stderr}`);
  }
  const ws = (name: string) => owner.workspaceByName("me", name);
  const agentOf = async (name: string) => (await ws(name)).agents[0];
  return {
    s,
    cli,
    owner,
    daemon,
    running,
    ws,
    agentOf,
    readyAgent: (name) => waitFor(`agent of ${name} ready`, async () => ((await agentOf(name))?.lifecycle_state === "ready" ? agentOf(name) : undefined)),
    startAgent(key) {
      const agentToken = daemon.agentTokens.get(key);
      if (!agentToken) throw new Error(`no token for ${key}`);
      const stop = new AbortController();
      const done = runAgent({
        url: s.url,
        token: agentToken,
        signal: stop.signal,
        log: createLogger({ level: "warn", write: (l) => void process.stderr.write(`[${key}] ${l}`) }),
        env: { PATH: process.env.PATH, HOME: cli.home, LANG: "C.UTF-8", SHELL: "/bin/sh" },
        startupLogPath: null,
        portsIntervalMs: 200,
      });
      running.set(key, {
        stop: async () => {
          stop.abort();
          await done;
          running.delete(key);
        },
      });
    },
    async close() {
      for (const a of [...running.values()]) await a.stop();
      await daemon.stop();
      await s.close();
      await cli.cleanup();
    },
  };
}
