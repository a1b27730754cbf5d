// The agent (runAgent, in this process) against the REAL server on a real database: hello and
// everything it reports reaching the API, a connection the server drops (the agent reconnects and
// re-sends its state, the startup script never runs twice), a revoked token (logged with why, retried
// with backoff), another API version (426, both versions named), shutdown (off), and streams relayed
// by the server (tcp with the refusal reason, the reconnecting terminal).
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { AGENT_API_VERSION, agentConnectPath, agentPtyPath } from "@outpost/sdk/agents";
import { AGENT_CLOSE } from "@outpost/sdk/agent-rpc";
import { createBackoff } from "../../src/backoff.js";
import { systemClock } from "../../src/clock.js";
import { createLogger } from "../../src/logger.js";
import { AGENT_VERSION, runAgent, type RunAgentOptions } from "../../src/run.js";
import { runTunnel } from "../../src/tunnel.js";
import { agentFleet, eventually, startWorkspace, stopWorkspace, type AgentFleet } from "../../../server/test/helpers/agent-fleet.js";
import { createTestServer, type TestServer } from "../../../server/test/helpers/test-server.js";
import { dial } from "../../../server/test/helpers/ws.js";

let s: TestServer;
let f: AgentFleet;
const dir = mkdtempSync(path.join(os.tmpdir(), "outpost-agent-real-"));
const running: { stop: AbortController; done: Promise<void> }[] = [];

beforeAll(async () => {
  s = await createTestServer({ listen: true });
  f = await agentFleet(s);
});
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.stop.abort();
    await r.done;
  }
});
afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

function agent(token: string, extra: Partial<RunAgentOptions> = {}) {
  const lines: string[] = [];
  const stop = new AbortController();
  const done = runAgent({
    url: s.url,
    token,
    log: createLogger({ level: "debug", write: (l) => lines.push(l) }),
    signal: stop.signal,
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir },
    backoff: { initialMs: 50, maxMs: 300 },
    startupLogPath: null,
    portsIntervalMs: 300,
    statsIntervalMs: 300,
    ...extra,
  });
  const handle = { stop, done, log: () => lines.join("") };
  running.push(handle);
  return handle;
}

const api = (agentId: string) => f.owner.agent(agentId);

describe("agent against the real server", () => {
  it("connects; lifecycle, startup logs, metadata, ports and stats reach the API", async () => {
    const spec = { dir, startupScript: "echo from-startup; echo on-stderr >&2", metadata: [{ key: "who", displayName: "Who", script: "echo agent-$((20 + 1))", interval: 60 }] };
    const { ws, tokens } = await startWorkspace(f, "real-hello", [{ name: "main", spec }]);
    const id = ws.agents[0]!.id;
    agent(tokens.main!);
    const got = await eventually(async () => {
      const a = await api(id);
      return a.lifecycle_state === "ready" && a.metadata[0]?.result && a.stats && a.listening_ports.length > 0 ? a : undefined;
    }, 10_000, "the agent's state in the API");
    expect(got).toMatchObject({ status: "connected", version: AGENT_VERSION, api_version: AGENT_API_VERSION, metadata: [{ key: "who", display_name: "Who", result: { value: "agent-21", error: "" } }] });
    // The server itself listens on loopback in this network namespace: the agent sees its port.
    expect(got.listening_ports).toContainEqual(expect.objectContaining({ port: Number(new URL(s.url).port), network: "tcp" }));
    const { logs } = await f.owner.agentLogs(id);
    expect(logs.filter((l) => l.source === "startup_script").map((l) => l.output)).toEqual(expect.arrayContaining(["from-startup", "on-stderr"]));
    expect(logs.filter((l) => l.source === "agent").map((l) => l.output)).toContain("startup script finished");
  });

  it("the server drops the connection: the agent reconnects and re-sends its state; the startup script ran once", async () => {
    const marker = path.join(dir, `runs-${randomUUID()}`);
    const { ws, tokens } = await startWorkspace(f, "real-reconnect", [{ name: "main", spec: { startupScript: `echo run >> ${marker}` } }]);
    const id = ws.agents[0]!.id;
    const a = agent(tokens.main!);
    await eventually(async () => (await api(id)).lifecycle_state === "ready", 10_000, "ready");
    const first = s.deps.agentConns.get(id)!;
    // The server forgets what the agent said (as a server restarted on another database state would).
    await s.deps.db.query("UPDATE workspace_agents SET lifecycle_state = 'created', listening_ports = '[]', stats = NULL WHERE id = $1", [id]);
    first.close(AGENT_CLOSE.GOING_AWAY, "server shutting down");
    await eventually(() => s.deps.agentConns.get(id) !== first && s.deps.agentConns.get(id), 10_000, "a new connection");
    const back = await eventually(async () => {
      const x = await api(id);
      return x.lifecycle_state === "ready" && x.stats && x.listening_ports.length > 0 ? x : undefined;
    }, 10_000, "state re-sent");
    expect(back.status).toBe("connected");
    expect(readFileSync(marker, "utf8")).toBe("run\n");
    expect(a.log()).toMatch(/WARN  disconnected from the server reason=.*retry_in_ms=\d+/);
    expect(a.log().match(/INFO  connected to the server/g)).toHaveLength(2);
  });

  it("a revoked token: the agent logs why and keeps retrying with a growing backoff", async () => {
    const { ws, tokens } = await startWorkspace(f, "real-revoked", [{ name: "main" }]);
    const id = ws.agents[0]!.id;
    const a = agent(tokens.main!, { backoff: { initialMs: 100, maxMs: 400 }, random: () => 0.99 });
    await eventually(() => s.deps.agentConns.get(id), 10_000, "connected");
    await stopWorkspace(f, ws.id);
    await eventually(() => (a.log().match(/cannot connect to the server/g) ?? []).length >= 3, 10_000, "three refused attempts");
    const log = a.log();
    expect(log).toMatch(/ERROR disconnected from the server reason=".*HTTP 401, agent token revoked: the workspace was stopped, deleted or rebuilt\).*stopped or rebuilt/);
    expect(log).toMatch(/ERROR cannot connect to the server error=".*refused the agent token \(HTTP 401, invalid agent token: the workspace was stopped, deleted or rebuilt/);
    // 99% of a cap that doubles from 100 ms to 400 ms.
    const waits = [...log.matchAll(/retry_in_ms=(\d+)/g)].map((m) => Number(m[1]));
    expect(waits.slice(0, 4)).toEqual([99, 198, 396, 396]);
  });

  it("another API version is refused before the upgrade; the log names both versions; the tunnel retries", async () => {
    const { tokens } = await startWorkspace(f, "real-version", [{ name: "main" }]);
    const lines: string[] = [];
    const stop = new AbortController();
    let attempts = 0;
    const backoff = createBackoff({ initialMs: 50, maxMs: 100 });
    const tunnel = runTunnel({
      url: s.url,
      token: tokens.main!,
      version: AGENT_VERSION,
      apiVersion: AGENT_API_VERSION + 1,
      clock: systemClock,
      log: createLogger({ level: "debug", write: (l) => lines.push(l) }),
      backoff: { next: () => (attempts++, backoff.next()), reset: () => backoff.reset(), get attempts() { return backoff.attempts; } },
      onStream: (req) => req.reject("no"),
      onConnected: () => {},
      onDisconnected: () => {},
      signal: stop.signal,
    });
    await eventually(() => attempts >= 2, 10_000, "retries");
    stop.abort();
    await tunnel;
    expect(lines.join("")).toMatch(
      new RegExp(`ERROR cannot connect to the server error="the server speaks agent API version ${AGENT_API_VERSION} and this agent version ${AGENT_API_VERSION} \\(HTTP 426, agent protocol version ${AGENT_API_VERSION + 1} does not match`),
    );
  });

  it("shutting down sends shutting_down then off: the API shows off and disconnected", async () => {
    const { ws, tokens } = await startWorkspace(f, "real-off", [{ name: "main" }]);
    const id = ws.agents[0]!.id;
    const a = agent(tokens.main!);
    await eventually(async () => (await api(id)).lifecycle_state === "ready", 10_000, "ready");
    a.stop.abort();
    await a.done;
    running.splice(running.indexOf(a), 1);
    const after = await eventually(async () => {
      const x = await api(id);
      return x.status === "disconnected" ? x : undefined;
    }, 10_000, "disconnected");
    expect(after.lifecycle_state).toBe("off");
  });

  it("streams through the server's relay: tcp to a local port, the refusal reason for a closed one, a terminal", async () => {
    const { ws, tokens } = await startWorkspace(f, "real-relay", [{ name: "main", spec: { dir } }]);
    const id = ws.agents[0]!.id;
    agent(tokens.main!);
    await eventually(() => s.deps.agentConns.get(id), 10_000, "connected");
    const headers = { "outpost-session-token": f.ownerToken };
    const wsUrl = (p: string) => `${s.url.replace("http", "ws")}${p}`;

    const echo = net.createServer((c) => c.pipe(c));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const port = (echo.address() as net.AddressInfo).port;
    try {
      const d = await dial(wsUrl(`${agentConnectPath(id)}?kind=tcp&port=${port}`), headers);
      if (!("socket" in d)) throw new Error(`refused: ${d.refused.status} ${d.refused.body}`);
      const reply = new Promise<string>((r) => d.socket.once("message", (m) => r(String(m))));
      d.socket.send(Buffer.from("ping through the relay"));
      expect(await reply).toBe("ping through the relay");
      d.socket.close();
    } finally {
      echo.close();
    }
    const closedPort = await freePort();
    const refused = await dial(wsUrl(`${agentConnectPath(id)}?kind=tcp&port=${closedPort}`), headers);
    expect("refused" in refused && refused.refused.status).toBe(502);
    expect("refused" in refused && refused.refused.body).toContain(`nothing listens on 127.0.0.1:${closedPort}`);

    const term = await dial(wsUrl(`${agentPtyPath(id)}?reconnect=${randomUUID()}&width=100&height=30`), headers);
    if (!("socket" in term)) throw new Error(`refused: ${term.refused.status} ${term.refused.body}`);
    let out = "";
    term.socket.on("message", (m) => (out += String(m)));
    term.socket.send(JSON.stringify({ data: "stty size; echo relay-$((5 * 5))\n" }));
    await eventually(() => /relay-25/.test(out) && /\b30 100\b/.test(out), 10_000, `terminal output (${JSON.stringify(out)})`);
    term.socket.close();
  });
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}


