// The agent's WebSocket (AGENT_RPC_PATH) against a real server and database, with a test agent speaking
// the protocol: refusals before the upgrade, hello with the manifest, what the agent reports showing up
// in the API, log long-polls, the workspace watch, replacement, revocation and protocol errors.
import { AGENT_API_VERSION, AGENT_TOKEN_HEADER } from "@outpost/sdk/agents";
import { AGENT_RPC_PATH, AGENT_VERSION_HEADER } from "@outpost/sdk/agent-rpc";
import type { Workspace } from "@outpost/sdk/workspaces";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { LOG_LIMIT_MARKER } from "../../src/db/queries/workspace-agent-logs.js";
import { AgentConnections } from "../../src/services/agent-conns.js";
import { silentLogger } from "../../src/logger.js";
import { agentFleet, eventually, finishBuild, startWorkspace, stopWorkspace, type AgentFleet } from "../helpers/agent-fleet.js";
import { AgentRefused, TestAgent } from "../helpers/test-agent.js";
import { createTestServer, createUserWithRoles, type TestServer } from "../helpers/test-server.js";
import { closed, dial, refusal } from "../helpers/ws.js";

let s: TestServer;
let f: AgentFleet;
const agents: TestAgent[] = [];
const now = () => new Date().toISOString();

async function connect(token: string, opts?: Parameters<typeof TestAgent.connect>[2]): Promise<TestAgent> {
  const a = await TestAgent.connect(s.url, token, opts);
  agents.push(a);
  return a;
}

const rpcUrl = () => `${s.url.replace("http", "ws")}${AGENT_RPC_PATH}`;

beforeAll(async () => {
  s = await createTestServer({ listen: true });
  f = await agentFleet(s);
});
afterAll(async () => {
  for (const a of agents) a.ws.terminate();
  await s?.close();
});

describe("agent RPC: refused before the upgrade", () => {
  it("answers 401 without a token or with a wrong one, 400 for a missing or garbled version, 426 for another version", async () => {
    const { tokens } = await startWorkspace(f, "auth", [{ name: "main" }]);
    const v = { [AGENT_VERSION_HEADER]: String(AGENT_API_VERSION) };
    expect(await refusal(rpcUrl(), v)).toMatchObject({ status: 401, error: { code: "UNAUTHENTICATED", message: "agent token required" } });
    expect(await refusal(rpcUrl(), { ...v, [AGENT_TOKEN_HEADER]: "x".repeat(43) })).toMatchObject({ status: 401, error: { message: "invalid agent token" } });

    const missing = await refusal(rpcUrl(), { [AGENT_TOKEN_HEADER]: tokens.main! });
    expect(missing).toMatchObject({ status: 400, error: { code: "INVALID_INPUT", validations: [{ field: `headers.${AGENT_VERSION_HEADER}`, detail: "is required" }] } });
    const garbled = await refusal(rpcUrl(), { [AGENT_TOKEN_HEADER]: tokens.main!, [AGENT_VERSION_HEADER]: "one" });
    expect(garbled).toMatchObject({ status: 400, error: { validations: [{ detail: "must be an integer" }] } });

    const other = await refusal(rpcUrl(), { [AGENT_TOKEN_HEADER]: tokens.main!, [AGENT_VERSION_HEADER]: String(AGENT_API_VERSION + 1) });
    expect(other.status).toBe(426);
    expect(other.error.code).toBe("UPGRADE_REQUIRED");
    expect(other.error.message).toContain(`agent protocol version ${AGENT_API_VERSION + 1}`);
    expect(other.error.message).toContain(`server's version ${AGENT_API_VERSION}`);
    expect(other.error.message).toContain(`${s.url}/bin/outpost-agent-linux-amd64`);
    await expect(TestAgent.connect(s.url, tokens.main!, { apiVersion: 0 })).rejects.toMatchObject({ status: 426 });

    // A plain GET (no upgrade) with good credentials is told to upgrade.
    const plain = await fetch(`${s.url}${AGENT_RPC_PATH}`, { headers: { [AGENT_TOKEN_HEADER]: tokens.main!, ...v } });
    expect(plain.status).toBe(426);
    expect(s.deps.agentConns.size).toBe(0);
  });

  it("refuses the token of a stopped workspace with 401 saying why", async () => {
    const { ws, tokens } = await startWorkspace(f, "stopped-token", [{ name: "main" }]);
    await stopWorkspace(f, ws.id);
    const err = await TestAgent.connect(s.url, tokens.main!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentRefused);
    expect((err as AgentRefused).status).toBe(401);
    expect(JSON.parse((err as AgentRefused).body)).toMatchObject({ code: "UNAUTHENTICATED", message: "invalid agent token", detail: expect.stringContaining("stopped") });
  });
});

describe("agent RPC: a connected agent", () => {
  it("gets hello with its manifest, and what it reports shows in the agent and the workspace", async () => {
    const metadata = [{ key: "load", displayName: "Load", script: "uptime", interval: 5 }];
    const spec = { startupScript: "echo hi", startupScriptBehavior: "blocking", startupScriptTimeoutSeconds: 30, connectionTimeoutSeconds: 60, metadata, env: { A: "1" } };
    const { ws, tokens } = await startWorkspace(f, "reporting", [{ name: "main", spec }]);
    const agentId = ws.agents[0]!.id;
    const a = await connect(tokens.main!);
    expect(a.hello).toMatchObject({
      type: "hello",
      api_version: AGENT_API_VERSION,
      manifest: { agent_id: agentId, agent_name: "main", workspace_id: ws.id, workspace_name: "reporting", owner_username: "owner", startup_script: "echo hi", startup_script_behavior: "blocking", startup_script_timeout_seconds: 30, connection_timeout_seconds: 60, env: { A: "1" } },
    });
    const changedAt = "2026-01-05T09:00:01.000Z";
    await a.send({ type: "lifecycle", state: "starting", changed_at: "2026-01-05T09:00:00.000Z" });
    await a.send({ type: "logs", source: "startup_script", lines: [{ created_at: now(), level: "info", output: "hi" }, { created_at: now(), level: "error", output: "bad\u0000byte" }] });
    await a.send({ type: "lifecycle", state: "ready", changed_at: changedAt });
    await a.send({ type: "metadata", items: [{ key: "load", value: "0.42", error: "", collected_at: now() }, { key: "undeclared", value: "x", error: "", collected_at: now() }] });
    await a.send({ type: "metadata", items: [{ key: "load", value: "0.50", error: "", collected_at: now() }] });
    await a.send({ type: "ports", ports: [{ port: 8080, network: "tcp", process_name: "node" }] });
    await a.send({ type: "stats", stats: { sessions: { ssh: 1, pty: 0, tcp: 2 }, rx_bytes: 10, tx_bytes: 20, last_activity_at: now() } });

    const agent = await eventually(async () => {
      const got = await f.owner.agent(agentId);
      return got.stats ? got : undefined;
    }, 5000, "stats to be stored");
    expect(agent).toMatchObject({
      status: "connected",
      lifecycle_state: "ready",
      lifecycle_changed_at: changedAt,
      version: "9.9.9-test",
      api_version: AGENT_API_VERSION,
      startup_script_behavior: "blocking",
      connection_timeout_seconds: 60,
      metadata: [{ key: "load", display_name: "Load", interval: 5, result: { key: "load", value: "0.50", error: "" } }],
      listening_ports: [{ port: 8080, network: "tcp", process_name: "node" }],
      stats: { sessions: { ssh: 1, pty: 0, tcp: 2 }, rx_bytes: 10, tx_bytes: 20 },
    });
    expect(agent.first_connected_at).not.toBeNull();
    expect(agent.disconnected_at).toBeNull();
    const workspace = await f.owner.workspace(ws.id);
    expect(workspace.agents).toMatchObject([{ id: agentId, status: "connected", lifecycle_state: "ready", version: "9.9.9-test" }]);
    // Newer activity reported by the agent is use of the workspace.
    expect(workspace.last_used_at).not.toBeNull();

    const { logs } = await f.owner.agentLogs(agentId);
    expect(logs.map((l) => [l.source, l.level, l.output])).toEqual([
      ["startup_script", "info", "hi"],
      ["startup_script", "error", "bad\ufffdbyte"],
    ]);

    a.close();
    await a.closed;
    await eventually(async () => (await f.owner.agent(agentId)).status === "disconnected", 5000, "disconnected");
    expect(s.deps.agentConns.get(agentId)).toBeUndefined();
  });

  it("wakes a log long-poll when lines arrive, and the WebSocket follower gets them live", async () => {
    const { ws, tokens } = await startWorkspace(f, "follow", [{ name: "main" }]);
    const agentId = ws.agents[0]!.id;
    const a = await connect(tokens.main!);
    await a.send({ type: "logs", source: "agent", lines: [{ created_at: now(), level: "info", output: "first" }] });
    const first = await eventually(async () => (await f.owner.agentLogs(agentId)).logs[0], 5000, "first line");

    const follower = new WebSocket(`${s.url.replace("http", "ws")}/api/v2/workspaceagents/${agentId}/logs?after=${first.id}`, { headers: { "Outpost-Session-Token": f.ownerToken } });
    const live: { type: string; log?: { output: string } }[] = [];
    follower.on("message", (d) => live.push(JSON.parse(String(d))));
    await new Promise((r) => follower.once("open", r));

    const started = Date.now();
    const poll = f.owner.agentLogs(agentId, first.id, 20);
    await new Promise((r) => setTimeout(r, 300));
    await a.send({ type: "logs", source: "agent", lines: [{ created_at: now(), level: "warn", output: "second" }] });
    const res = await poll;
    expect(res.logs.map((l) => l.output)).toEqual(["second"]);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.agent).toMatchObject({ id: agentId, status: "connected" });

    await eventually(() => live.some((m) => m.type === "log" && m.log!.output === "second"), 5000, "the live line");
    expect(live.filter((m) => m.type === "log").map((m) => m.log!.output)).toEqual(["second"]);
    follower.close();
  });

  it("stores logs up to the cap, then one marker line, then nothing", async () => {
    const { ws, tokens } = await startWorkspace(f, "flood", [{ name: "main" }]);
    const agentId = ws.agents[0]!.id;
    const a = await connect(tokens.main!);
    const batch = Array.from({ length: 1000 }, (_, i) => ({ created_at: now(), level: "info" as const, output: `line ${i}` }));
    for (let i = 0; i < 11; i++) await a.send({ type: "logs", source: "startup_script", lines: batch });
    await a.send({ type: "lifecycle", state: "ready", changed_at: now() });
    await eventually(async () => (await f.owner.agent(agentId)).lifecycle_state === "ready", 10_000, "ready");
    const { rows } = await s.deps.db.query("SELECT count(*)::int AS n, max(id) AS last FROM workspace_agent_logs WHERE agent_id = $1", [agentId]);
    expect(rows[0].n).toBe(10_000);
    const last = await s.deps.db.query("SELECT output, level FROM workspace_agent_logs WHERE id = $1", [rows[0].last]);
    expect(last.rows[0]).toEqual({ output: LOG_LIMIT_MARKER, level: "warn" });
  });

  it("sends the workspace on a watch socket at once and again when the agent changes", async () => {
    const { ws, tokens } = await startWorkspace(f, "watched", [{ name: "main" }]);
    const watch = new WebSocket(`${s.url.replace("http", "ws")}/api/v2/workspaces/${ws.id}/watch`, { headers: { "Outpost-Session-Token": f.ownerToken } });
    const seen: Workspace[] = [];
    watch.on("message", (d) => {
      const m = JSON.parse(String(d)) as { type: string; workspace: Workspace };
      expect(m.type).toBe("workspace");
      seen.push(m.workspace);
    });
    await eventually(() => seen.length >= 1, 5000, "the first view");
    expect(seen[0]).toMatchObject({ id: ws.id, status: "running", agents: [{ status: "connecting", lifecycle_state: "created" }] });

    const a = await connect(tokens.main!);
    await a.send({ type: "lifecycle", state: "ready", changed_at: now() });
    await eventually(() => seen.at(-1)!.agents[0]!.lifecycle_state === "ready", 5000, "the ready agent");
    expect(seen.at(-1)!.agents[0]!.status).toBe("connected");

    // A build is a change too: stop it, and the watcher sees it stopping, then stopped.
    await f.owner.createBuild(ws.id, { transition: "stop" });
    await eventually(() => seen.at(-1)!.latest_build.transition === "stop", 5000, "the stop build");
    await finishBuild(f, []);
    await eventually(() => seen.at(-1)!.status === "stopped", 5000, "stopped");
    watch.close();
  });

  it("a second connection of the same agent replaces the first", async () => {
    const { ws, tokens } = await startWorkspace(f, "twice", [{ name: "main" }]);
    const agentId = ws.agents[0]!.id;
    const first = await connect(tokens.main!);
    const second = await connect(tokens.main!);
    expect(await first.closed).toEqual({ code: 4409, reason: "replaced by a newer connection of the same agent" });
    await second.send({ type: "lifecycle", state: "ready", changed_at: now() });
    await eventually(async () => (await f.owner.agent(agentId)).lifecycle_state === "ready", 5000, "ready");
    // The old connection's close did not mark the agent disconnected.
    expect((await f.owner.agent(agentId)).status).toBe("connected");
    expect(s.deps.agentConns.list().filter((c) => c.agentId === agentId)).toHaveLength(1);
  });

  it("stopping the workspace revokes the token and closes the live connection", async () => {
    const { ws, tokens } = await startWorkspace(f, "revoked", [{ name: "main" }]);
    const a = await connect(tokens.main!);
    await eventually(() => s.deps.agentConns.get(ws.agents[0]!.id), 5000, "registered");
    await stopWorkspace(f, ws.id);
    const end = await Promise.race([a.closed, new Promise((r) => setTimeout(() => r("still open"), 5000))]);
    expect(end).toEqual({ code: 4401, reason: "agent token revoked: the workspace was stopped, deleted or rebuilt" });
    expect(s.deps.agentConns.get(ws.agents[0]!.id)).toBeUndefined();
    await expect(TestAgent.connect(s.url, tokens.main!)).rejects.toMatchObject({ status: 401 });
  });

  it("a build that keeps the agent's resource keeps its connection, state and logs on the new build's row", async () => {
    const { ws, tokens } = await startWorkspace(f, "kept", [{ name: "main" }]);
    const oldId = ws.agents[0]!.id;
    const a = await connect(tokens.main!);
    await a.send({ type: "lifecycle", state: "ready", changed_at: now() });
    await a.send({ type: "logs", source: "startup_script", lines: [{ created_at: now(), level: "info", output: "before the update" }] });
    await eventually(async () => (await f.owner.agentLogs(oldId)).logs.length === 1, 5000, "the log line");
    const version = (await f.owner.template("dev")).active_version_id!;
    await f.owner.createBuild(ws.id, { transition: "start", template_version_id: version });
    const job = (await f.daemon.acquireJob(f.daemonId, 0))!;
    await f.daemon.completeJob(job.id, { build: { state: [], agents: [{ name: "main", resource_address: "docker_container.main", spec: { name: "main" }, keep: true }] } });
    const after = await f.owner.workspace(ws.id);
    const newId = after.agents[0]!.id;
    expect(newId).not.toBe(oldId);
    await eventually(() => s.deps.agentConns.get(newId), 5000, "the connection to follow the token");
    expect(after.agents[0]).toMatchObject({ status: "connected", lifecycle_state: "ready" });
    expect((await f.owner.agentLogs(newId)).logs.map((l) => l.output)).toEqual(["before the update"]);
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("a restarted server reads the rows of a previous run as disconnected", async () => {
    const { ws, tokens } = await startWorkspace(f, "restart", [{ name: "main" }]);
    await connect(tokens.main!);
    await eventually(async () => (await f.owner.agent(ws.agents[0]!.id)).status === "connected", 5000, "connected");
    // What a new server process does at start-up, on the same database.
    const next = new AgentConnections({ db: s.deps.db, logger: silentLogger(), clock: s.clock, pubsub: s.deps.pubsub });
    await next.start();
    await next.close();
    expect((await f.owner.agent(ws.agents[0]!.id)).status).toBe("disconnected");
  });
});

describe("agent RPC: bad input closes the connection, never the server", () => {
  const cases: [string, (a: TestAgent) => Promise<unknown>, RegExp][] = [
    ["invalid JSON", (a) => a.sendRaw("{not json\n"), /^invalid agent message: .*JSON/],
    ["an unknown message type", (a) => a.sendRaw(`${JSON.stringify({ type: "gossip", text: "hi" })}\n`), /^invalid agent message \(type "gossip"\)/],
    ["a message with a wrong field", (a) => a.sendRaw(`${JSON.stringify({ type: "lifecycle", state: "dancing", changed_at: now() })}\n`), /^invalid agent message \(type "lifecycle"\): state/],
    ["an oversized line", (a) => a.sendRaw("x".repeat(1024 * 1024 + 10)).catch(() => undefined), /longer than 1048576 bytes/],
    ["a text frame", async (a) => a.ws.send("hello"), /^text frames are not part of the agent protocol/],
    ["a malformed mux frame", async (a) => a.ws.send(Buffer.from([9, 9, 9])), /./],
  ];
  for (const [what, act, reason] of cases) {
    it(`${what}: close 4400 with the reason`, async () => {
      const { ws, tokens } = await startWorkspace(f, `bad-${what.replace(/[^a-z]+/g, "-").replace(/-+$/, "").slice(0, 30)}`, [{ name: "main" }]);
      const bystander = await startWorkspace(f, `ok-${what.replace(/[^a-z]+/g, "-").replace(/-+$/, "").slice(0, 30)}`, [{ name: "main" }]);
      const good = await connect(bystander.tokens.main!);
      const a = await connect(tokens.main!);
      await eventually(() => s.deps.agentConns.get(ws.agents[0]!.id), 5000, "registered");
      await act(a);
      const end = await a.closed;
      expect(end.code).toBe(4400);
      expect(end.reason).toMatch(reason);
      await eventually(async () => (await f.owner.agent(ws.agents[0]!.id)).status === "disconnected", 5000, "disconnected");
      // The server and the other agent carry on.
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      await good.send({ type: "lifecycle", state: "ready", changed_at: now() });
      await eventually(async () => (await f.owner.agent(bystander.ws.agents[0]!.id)).lifecycle_state === "ready", 5000, "the bystander's report");
      good.close();
    });
  }

  it("another api_version in the agent's hello: close 4426", async () => {
    const { tokens } = await startWorkspace(f, "bad-hello", [{ name: "main" }]);
    const a = await connect(tokens.main!, { noHello: true });
    await a.send({ type: "hello", api_version: 99, version: "x", os: "linux", arch: "amd64", hostname: "h" });
    expect(await a.closed).toMatchObject({ code: 4426, reason: expect.stringContaining("99") });
  });

  it("a watch of someone else's workspace is refused with 404 before the upgrade", async () => {
    const { ws } = await startWorkspace(f, "private", []);
    const { token } = await createUserWithRoles(s, f.ownerToken, "watcher", []);
    expect(await refusal(`${s.url.replace("http", "ws")}/api/v2/workspaces/${ws.id}/watch`, { "Outpost-Session-Token": token })).toMatchObject({ status: 404, error: { code: "NOT_FOUND" } });
    const sock = await dial(`${s.url.replace("http", "ws")}/api/v2/workspaces/${ws.id}/watch`, { "Outpost-Session-Token": f.ownerToken });
    expect("socket" in sock).toBe(true);
    if ("socket" in sock) {
      sock.socket.close();
      await closed(sock.socket);
    }
  });
});
