// Protocol tests: the whole agent (runAgent) against a minimal in-test peer (protocol-peer.ts), for
// what the real server never does on purpose: a hello with another version, invalid messages on
// stream 0, a peer that drops the connection at will. The same flows against the real server are in
// tunnel-server.test.ts.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { AGENT_API_VERSION } from "@outpost/sdk/agents";
import { encodeNdjson, type AgentMessage } from "@outpost/sdk/agent-rpc";
import { createLogger } from "../../src/logger.js";
import { runAgent, type RunAgentOptions } from "../../src/run.js";
import { PEER_TOKEN, startPeer, testManifest, type Peer } from "../helpers/protocol-peer.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "outpost-agent-proto-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const running: { stop: AbortController; done: Promise<void> }[] = [];
const peers: Peer[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.stop.abort();
    await r.done;
  }
  for (const p of peers.splice(0)) await p.close();
});

async function peer(...args: Parameters<typeof startPeer>): Promise<Peer> {
  const p = await startPeer(...args);
  peers.push(p);
  return p;
}

function agent(url: string, extra: Partial<RunAgentOptions> = {}) {
  const lines: string[] = [];
  const stop = new AbortController();
  const done = runAgent({
    url,
    token: PEER_TOKEN,
    log: createLogger({ level: "debug", write: (l) => lines.push(l) }),
    signal: stop.signal,
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir },
    backoff: { initialMs: 50, maxMs: 200 },
    startupLogPath: null,
    portsIntervalMs: 200,
    statsIntervalMs: 200,
    ...extra,
  });
  const handle = { stop, done, lines, log: () => lines.join("") };
  running.push(handle);
  return handle;
}

const states = (msgs: AgentMessage[]) => msgs.flatMap((m) => (m.type === "lifecycle" ? [m.state] : []));

describe("agent tunnel protocol (in-test peer)", () => {
  it("sends its headers and hello, then lifecycle, startup logs, ports and stats", async () => {
    const p = await peer({ manifest: testManifest({ startup_script: "echo started-ok", directory: dir }) });
    const a = agent(p.url);
    await p.waitFor(() => states(p.all()).includes("ready"));
    const c = p.connections[0]!;
    expect(c.headers["outpost-agent-token"]).toBe(PEER_TOKEN);
    expect(c.headers["outpost-agent-api-version"]).toBe(String(AGENT_API_VERSION));
    expect(c.headers["sec-websocket-extensions"]).toBeUndefined(); // no permessage-deflate
    expect(c.messages[0]).toEqual({ type: "hello", api_version: AGENT_API_VERSION, version: expect.any(String), os: "linux", arch: expect.stringMatching(/^(amd64|arm64)$/), hostname: os.hostname() });
    expect(states(c.messages)).toEqual(["created", "starting", "ready"]);
    await p.waitFor(() => c.messages.some((m) => m.type === "ports") && c.messages.some((m) => m.type === "stats"));
    const logs = c.messages.flatMap((m) => (m.type === "logs" && m.source === "startup_script" ? m.lines.map((l) => l.output) : []));
    expect(logs).toEqual(["started-ok"]);
    expect(p.invalid).toEqual([]);
    expect(a.log()).toMatch(/INFO  connected to the server/);
  });

  it("reconnects after the server drops the socket, re-sends hello and state, never reruns the startup script", async () => {
    const marker = path.join(dir, `runs-${randomUUID()}`);
    const p = await peer({ manifest: testManifest({ startup_script: `echo run >> ${marker}`, metadata: [{ key: "k", script: "echo v", interval: 60 }] }) });
    const a = agent(p.url);
    await p.waitFor(() => states(p.all()).includes("ready") && p.all().some((m) => m.type === "metadata"));
    p.connections[0]!.ws.terminate();
    const kinds = ["lifecycle", "ports", "metadata", "stats"];
    await p.waitFor(() => p.connections.length === 2 && kinds.every((k) => p.connections[1]!.messages.some((m) => m.type === k)));
    const second = p.connections[1]!.messages;
    expect(second[0]).toMatchObject({ type: "hello" });
    expect(states(second)).toEqual(["ready"]);
    expect(second.find((m) => m.type === "metadata")).toMatchObject({ items: [{ key: "k", value: "v" }] });
    expect(readFileSync(marker, "utf8")).toBe("run\n");
    expect(a.log()).toMatch(/WARN  disconnected from the server .*retry_in_ms=/);
  });

  it("logs why a refused token fails and keeps retrying with backoff", async () => {
    let refuse = true;
    const p = await peer({ refuse: () => (refuse ? { status: 401, body: { code: "UNAUTHENTICATED", message: "invalid agent token", detail: "revoked" } } : undefined) });
    const a = agent(p.url);
    await p.waitFor(() => p.attempts >= 4);
    expect(p.connections).toHaveLength(0);
    expect(a.log()).toMatch(/ERROR cannot connect to the server error=".*HTTP 401, invalid agent token: revoked.*stopped or rebuilt/);
    refuse = false;
    await p.waitFor(() => p.connections.length === 1 && states(p.all()).includes("ready"));
  });

  it("a hello with another API version: logs both versions, closes, retries", async () => {
    const p = await peer({ hello: () => ({ type: "hello", api_version: AGENT_API_VERSION + 1, manifest: testManifest() }) });
    const a = agent(p.url);
    await p.waitFor(() => p.connections.length >= 2);
    expect(a.log()).toMatch(new RegExp(`ERROR cannot connect to the server error="the server speaks agent API version ${AGENT_API_VERSION + 1} and this agent version ${AGENT_API_VERSION}`));
    expect(p.connections[0]!.messages).toEqual([]); // it never said hello back
  });

  it("an invalid server message drops the connection (logged), never the agent", async () => {
    const p = await peer();
    const a = agent(p.url);
    await p.waitFor(() => states(p.all()).includes("ready"));
    await p.connections[0]!.mux.control.write(encodeNdjson({ type: "surprise" }));
    await p.waitFor(() => p.connections.length === 2 && p.connections[1]!.messages.length > 0);
    await p.connections[1]!.mux.control.write(new TextEncoder().encode("{not json\n"));
    await p.waitFor(() => p.connections.length === 3 && p.connections[2]!.messages.length > 0);
    expect(a.log()).toMatch(/ERROR dropping the connection error="invalid message from the server: type:/);
    expect(a.log()).toMatch(/ERROR dropping the connection error="bad NDJSON/);
  });

  it("no hello in time: gives up on the connection and retries", async () => {
    const p = await peer({ hello: () => null });
    const a = agent(p.url, { helloTimeoutMs: 300 });
    await p.waitFor(() => p.connections.length >= 2);
    expect(a.log()).toMatch(/cannot connect to the server error="the server sent no hello within 0.3 s"/);
    p.options.hello = undefined;
    await p.waitFor(() => states(p.all()).includes("ready"));
  });

  it("shuts down on abort: shutting_down then off, resolves, terminals and scripts killed", async () => {
    const pidFile = path.join(dir, `bg-${randomUUID()}`);
    const p = await peer({ manifest: testManifest({ startup_script: `sleep 300 & echo $! > ${pidFile}; wait` }) });
    const a = agent(p.url);
    await p.waitFor(() => states(p.all()).includes("starting"));
    const pty = await p.connections[0]!.mux.open("pty");
    await pty.write(encodeNdjson({ id: randomUUID(), width: 80, height: 24 }));
    await pty.write(encodeNdjson({ data: "echo term-$((6 * 7))\n" }));
    let out = "";
    const ptyDone = (async () => {
      for await (const c of pty) out += new TextDecoder().decode(c);
    })().catch(() => {});
    await p.waitFor(() => out.includes("term-42"));
    await p.waitFor(() => { try { return Number(readFileSync(pidFile, "utf8")) > 0; } catch { return false; } });
    const bg = Number(readFileSync(pidFile, "utf8"));

    a.stop.abort();
    await a.done;
    running.splice(running.indexOf(a), 1);
    expect(states(p.all()).slice(-2)).toEqual(["shutting_down", "off"]);
    await ptyDone; // the terminal's process was killed: its stream ended
    await p.waitFor(() => !alive(bg), 3000); // killed with its process group
    expect(a.log()).toMatch(/INFO  agent stopped/);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8")); // a zombie is dead
  } catch {
    return false;
  }
}
