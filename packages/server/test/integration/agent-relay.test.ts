// Client relays through a real server to a test agent: ssh (the agent echoes), tcp:PORT (the agent
// dials a real TCP server on 127.0.0.1), the terminal, by id and by names; refusals before the upgrade;
// teardown without leaks; activity.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { agentFleet, eventually, startWorkspace, stopWorkspace, type AgentFleet } from "../helpers/agent-fleet.js";
import { TestAgent } from "../helpers/test-agent.js";
import { createTestServer, createUserWithRoles, type TestServer } from "../helpers/test-server.js";
import { closed, dial, refusal } from "../helpers/ws.js";

let s: TestServer;
let f: AgentFleet;
const agents: TestAgent[] = [];
const servers: net.Server[] = [];

/** A running workspace with one connected test agent. */
async function connectedWorkspace(name: string): Promise<{ wsId: string; agentId: string; agent: TestAgent }> {
  const { ws, tokens } = await startWorkspace(f, name, [{ name: "main" }]);
  const agent = await TestAgent.connect(s.url, tokens.main!);
  agents.push(agent);
  await eventually(() => s.deps.agentConns.get(ws.agents[0]!.id), 5000, "registered");
  return { wsId: ws.id, agentId: ws.agents[0]!.id, agent };
}

const wsUrl = (path: string) => `${s.url.replace("http", "ws")}${path}`;
const auth = () => ({ "Outpost-Session-Token": f.ownerToken });

async function open(path: string, headers = auth()): Promise<WebSocket> {
  const d = await dial(wsUrl(path), headers);
  if ("refused" in d) throw new Error(`refused: ${d.refused.status} ${d.refused.body}`);
  return d.socket;
}

/** Collects binary frames; resolves `ended` with the close. */
function collect(socket: WebSocket) {
  const chunks: Buffer[] = [];
  const texts: string[] = [];
  let bytes = 0;
  socket.on("message", (d, isBinary) => {
    if (isBinary) {
      chunks.push(d as Buffer);
      bytes += (d as Buffer).length;
    } else texts.push(String(d));
  });
  return { chunks, texts, bytes: () => bytes, data: () => Buffer.concat(chunks), ended: closed(socket) };
}

/** A TCP server on 127.0.0.1 (port 0); `onConn` handles each connection. */
async function tcpServer(onConn: (c: net.Socket) => void, opts: net.ServerOpts = {}): Promise<number> {
  const srv = net.createServer(opts, onConn);
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return (srv.address() as net.AddressInfo).port;
}

/** Sends `data` in 64 KiB frames, awaiting each send (a well-behaved client). */
async function sendAll(socket: WebSocket, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; off += 65536) {
    await new Promise<void>((resolve, reject) => socket.send(data.subarray(off, off + 65536), { binary: true }, (err) => (err ? reject(err) : resolve())));
  }
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  s = await createTestServer({ listen: true });
  f = await agentFleet(s);
});
afterAll(async () => {
  for (const a of agents) a.ws.terminate();
  for (const srv of servers) srv.close();
  await s?.close();
});

describe("relay: ssh and tcp end to end", () => {
  it("echoes bytes through kind=ssh, 10 MiB intact", async () => {
    const { agentId, agent } = await connectedWorkspace("echo");
    const socket = await open(`/api/v2/workspaceagents/${agentId}/connect?kind=ssh`);
    const got = collect(socket);
    const payload = randomBytes(10 * 1024 * 1024);
    await sendAll(socket, payload);
    await eventually(() => got.bytes() >= payload.length, 20_000, "the echo");
    expect(sha(got.data())).toBe(sha(payload));
    expect(agent.opened).toEqual(["ssh"]);
    socket.close(1000);
    expect((await got.ended).code).toBe(1000);
    await eventually(() => agent.mux.openStreams === 0 && s.deps.agentConns.relays === 0, 5000, "no streams left");
  });

  it("uploads to and downloads from a real TCP server through kind=tcp, 10 MiB each way", async () => {
    const { agentId, agent } = await connectedWorkspace("tcp");
    const size = 10 * 1024 * 1024;
    // Reads exactly `size` bytes, answers their sha256.
    const sinkPort = await tcpServer((c) => {
      const h = createHash("sha256");
      let n = 0;
      c.on("data", (d) => {
        h.update(d);
        n += d.length;
        if (n === size) c.end(h.digest("hex"));
      });
      c.on("error", () => undefined);
    });
    const upload = await open(`/api/v2/workspaceagents/${agentId}/connect?kind=tcp&port=${sinkPort}`);
    const answer = collect(upload);
    const payload = randomBytes(size);
    await sendAll(upload, payload);
    // The TCP server ended after answering: the relay closes with 1000.
    expect((await answer.ended).code).toBe(1000);
    expect(answer.data().toString()).toBe(sha(payload));

    const download = randomBytes(size);
    const sourcePort = await tcpServer((c) => {
      c.on("error", () => undefined);
      c.end(download);
    });
    const socket = await open(`/api/v2/workspaceagents/${agentId}/connect?kind=tcp&port=${sourcePort}`);
    const got = collect(socket);
    expect((await got.ended).code).toBe(1000);
    expect(sha(got.data())).toBe(sha(download));
    await eventually(() => agent.mux.openStreams === 0 && s.deps.agentConns.relays === 0, 5000, "no streams left");
  });

  it("takes an empty binary message as the client's end-of-input: the agent side still answers (half-close)", async () => {
    const { agentId, agent } = await connectedWorkspace("halfclose");
    // Answers only once its input ended, like a request-then-FIN protocol.
    const port = await tcpServer((c) => {
      let text = "";
      c.on("data", (d) => (text += String(d)));
      c.on("end", () => c.end(`got ${text.length} bytes`));
      c.on("error", () => undefined);
    });
    const socket = await open(`/api/v2/workspaceagents/${agentId}/connect?kind=tcp&port=${port}`);
    const got = collect(socket);
    socket.send(Buffer.from("hello"), { binary: true });
    socket.send(Buffer.alloc(0), { binary: true });
    expect((await got.ended).code).toBe(1000);
    expect(got.data().toString()).toBe("got 5 bytes");
    await eventually(() => agent.mux.openStreams === 0 && s.deps.agentConns.relays === 0, 5000, "no streams left");
  });

  it("connects by names (me/WORKSPACE), picks among agents with ?agent, and lists them when it must", async () => {
    const { ws, tokens } = await startWorkspace(f, "names", [{ name: "main" }, { name: "side" }]);
    for (const name of ["main", "side"]) agents.push(await TestAgent.connect(s.url, tokens[name]!));
    await eventually(() => ws.agents.every((a) => s.deps.agentConns.get(a.id)), 5000, "both registered");
    const byName = (q: string) => `/api/v2/users/me/workspaces/names/connect?${q}`;
    const many = await refusal(wsUrl(byName("kind=ssh")), auth());
    expect(many).toMatchObject({ status: 400, error: { code: "INVALID_INPUT", validations: [{ field: "query.agent", detail: "is required: one of main, side" }] } });
    expect(await refusal(wsUrl(byName("kind=ssh&agent=nope")), auth())).toMatchObject({ status: 404, error: { detail: "its agents: main, side" } });
    const socket = await open(byName("kind=ssh&agent=side"));
    const got = collect(socket);
    socket.send(Buffer.from("via names"));
    await eventually(() => got.data().toString() === "via names", 5000, "the echo");
    socket.close();
    expect(agents.at(-1)!.opened).toEqual(["ssh"]);
    // One agent: no name needed; the owner's username works as well as `me`.
    const single = await connectedWorkspace("single");
    const other = await open(`/api/v2/users/owner/workspaces/single/connect?kind=ssh`);
    other.send(Buffer.from("x"));
    const echoed = collect(other);
    await eventually(() => echoed.bytes() === 1, 5000, "the echo");
    other.close();
    expect(single.agent.opened).toEqual(["ssh"]);
  });
});

describe("relay: refusals before the upgrade", () => {
  it("passes on the agent's reason for refusing a stream as 502", async () => {
    const { agentId } = await connectedWorkspace("refused");
    const port = await tcpServer(() => undefined);
    await new Promise<void>((r) => servers.at(-1)!.close(() => r()));
    const res = await refusal(wsUrl(`/api/v2/workspaceagents/${agentId}/connect?kind=tcp&port=${port}`), auth());
    expect(res).toMatchObject({ status: 502, error: { code: "BAD_GATEWAY", message: `agent "main" refused the connection: nothing listens on 127.0.0.1:${port}` } });
    expect(s.deps.agentConns.relays).toBe(0);
  });

  it("answers 404 for another user's workspace, 409 for a stopped one, 503 when the agent is not connected, 400 for bad queries", async () => {
    const { agentId, wsId } = await connectedWorkspace("guarded");
    const member = await createUserWithRoles(s, f.ownerToken, "member1", []);
    const asMember = { "Outpost-Session-Token": member.token };
    expect(await refusal(wsUrl(`/api/v2/workspaceagents/${agentId}/connect?kind=ssh`), asMember)).toMatchObject({ status: 404, error: { message: "agent not found" } });
    expect(await refusal(wsUrl(`/api/v2/users/owner/workspaces/guarded/connect?kind=ssh`), asMember)).toMatchObject({ status: 404 });
    expect(await refusal(wsUrl(`/api/v2/workspaceagents/${agentId}/pty?reconnect=${randomUUID()}`), asMember)).toMatchObject({ status: 404 });
    expect(await refusal(wsUrl(`/api/v2/workspaceagents/${agentId}/connect?kind=tcp`), auth())).toMatchObject({ status: 400, error: { validations: [{ field: "query.port", detail: "is required with kind=tcp" }] } });
    expect(await refusal(wsUrl(`/api/v2/workspaceagents/${agentId}/connect?kind=udp`), auth())).toMatchObject({ status: 400 });
    expect(await refusal(wsUrl(`/api/v2/workspaceagents/${agentId}/connect?kind=ssh`), {})).toMatchObject({ status: 401 });

    await stopWorkspace(f, wsId);
    const stopped = await refusal(wsUrl(`/api/v2/users/me/workspaces/guarded/connect?kind=ssh`), auth());
    expect(stopped).toMatchObject({ status: 409, error: { code: "CONFLICT", message: "workspace owner/guarded is stopped: start it with `outpost start guarded`" } });
    expect(await refusal(wsUrl(`/api/v2/workspaceagents/${agentId}/connect?kind=ssh`), auth())).toMatchObject({ status: 409 });

    const { ws } = await startWorkspace(f, "silent", [{ name: "main" }]);
    const absent = await refusal(wsUrl(`/api/v2/workspaceagents/${ws.agents[0]!.id}/connect?kind=ssh`), auth());
    expect(absent).toMatchObject({ status: 503, error: { code: "UNAVAILABLE", message: 'agent "main" of owner/silent is not connected' } });
    expect(absent.error.detail).toMatch(/^status connecting \(never connected\)/);
  });
});

describe("relay: teardown", () => {
  it("leaves no stream or relay behind after clients abort mid-transfer, at once", async () => {
    const { agentId, agent } = await connectedWorkspace("aborts");
    // An endless source that ignores the end of its input: only the relay noticing the client is gone
    // ends these streams (not the agent's side reacting to EOF).
    const chunk = randomBytes(64 * 1024);
    const port = await tcpServer(
      (c) => {
        c.on("error", () => undefined);
        const pump = () => {
          while (c.writable && c.write(chunk));
          if (c.writable) c.once("drain", pump);
        };
        pump();
      },
      { allowHalfOpen: true },
    );
    const sockets = await Promise.all(Array.from({ length: 6 }, () => open(`/api/v2/workspaceagents/${agentId}/connect?kind=tcp&port=${port}`)));
    const echo = await open(`/api/v2/workspaceagents/${agentId}/connect?kind=ssh`);
    const flows = sockets.map(collect);
    await eventually(() => flows.every((fl) => fl.bytes() > 1024 * 1024), 20_000, "data flowing on every relay");
    expect(s.deps.agentConns.relays).toBe(7);
    // Half just vanish (no close frame), half close politely, mid-transfer; the echo uploads and leaves.
    sockets.forEach((sock, i) => (i % 2 ? sock.terminate() : sock.close()));
    void sendAll(echo, randomBytes(4 * 1024 * 1024)).catch(() => undefined);
    echo.terminate();
    // Well before the grace period for idle agents (5 s).
    await eventually(() => agent.mux.openStreams === 0 && s.deps.agentConns.relays === 0, 2500, "every stream and relay to end");
  });

  it("gives an agent side that neither sends nor ends a grace period after the client left, then resets it", async () => {
    const { agentId, agent } = await connectedWorkspace("idle");
    let ended = false;
    const port = await tcpServer(
      (c) => {
        c.on("error", () => undefined);
        c.on("end", () => (ended = true));
        c.resume();
      },
      { allowHalfOpen: true },
    );
    const socket = await open(`/api/v2/workspaceagents/${agentId}/connect?kind=tcp&port=${port}`);
    socket.send(Buffer.from("last words"));
    socket.close(1000);
    await closed(socket);
    // The upload ended (FIN reached the TCP server); the stream waits for the agent's side...
    await eventually(() => ended, 2000, "the TCP server to see the end of its input");
    expect(s.deps.agentConns.relays).toBe(1);
    // ...until the grace period is over.
    await eventually(() => agent.mux.openStreams === 0 && s.deps.agentConns.relays === 0, 8000, "the reset");
  });

  it("tells the client when the agent goes away (4503) or resets the stream (4502)", async () => {
    const { agentId, agent } = await connectedWorkspace("gone");
    const socket = await open(`/api/v2/workspaceagents/${agentId}/connect?kind=ssh`);
    const got = collect(socket);
    agent.ws.terminate();
    const end = await got.ended;
    expect(end.code).toBe(4503);
    expect(JSON.parse(got.texts[0]!)).toMatchObject({ type: "error", error: { code: "UNAVAILABLE", message: expect.stringContaining("the agent went away") } });
    await eventually(() => s.deps.agentConns.relays === 0, 5000, "the relay to end");

    let server: import("@outpost/sdk/mux").MuxStream | undefined;
    const resetter = await startWorkspace(f, "resetter", [{ name: "main" }]);
    const a = await TestAgent.connect(s.url, resetter.tokens.main!, { onStream: (req) => void (server = req.accept()) });
    agents.push(a);
    await eventually(() => s.deps.agentConns.get(resetter.ws.agents[0]!.id), 5000, "registered");
    const sock = await open(`/api/v2/workspaceagents/${resetter.ws.agents[0]!.id}/connect?kind=ssh`);
    const got2 = collect(sock);
    await eventually(() => server, 5000, "the stream");
    server!.reset("sshd crashed");
    expect((await got2.ended).code).toBe(4502);
    expect(JSON.parse(got2.texts[0]!).error.message).toContain("sshd crashed");
  });

  it("counts a relay as use of the workspace", async () => {
    const { wsId, agentId } = await connectedWorkspace("used");
    expect((await f.owner.workspace(wsId)).last_used_at).toBeNull();
    const socket = await open(`/api/v2/workspaceagents/${agentId}/connect?kind=ssh`);
    await eventually(async () => (await f.owner.workspace(wsId)).last_used_at, 5000, "last_used_at");
    socket.close();
  });
});

describe("relay: terminal", () => {
  it("opens a pty stream with PtyInit, relays PtyInput text frames as lines and output as binary frames", async () => {
    const { agentId, agent } = await connectedWorkspace("term");
    const id = randomUUID();
    const socket = await open(`/api/v2/workspaceagents/${agentId}/pty?reconnect=${id}&width=120&height=40&command=${encodeURIComponent("htop")}`);
    const got = collect(socket);
    await eventually(() => got.data().toString() === "$ ", 5000, "the prompt");
    expect(agent.ptys[0]!.init).toEqual({ id, width: 120, height: 40, command: "htop" });
    socket.send(JSON.stringify({ data: "ls -la\r" }));
    socket.send(JSON.stringify({ width: 100, height: 30 }));
    await eventually(() => got.data().toString() === "$ ls -la\r[resized 100x30]", 5000, "the echo");
    expect(agent.ptys[0]!.inputs).toEqual([{ data: "ls -la\r" }, { width: 100, height: 30 }]);
    expect(got.texts).toEqual([]);

    // Input that is not PtyInput ends the terminal's relay with the reason.
    socket.send(JSON.stringify({ data: 1 }));
    const end = await got.ended;
    expect(end.code).toBe(4400);
    expect(JSON.parse(got.texts[0]!)).toMatchObject({ type: "error", error: { code: "INVALID_INPUT", validations: [{ field: "data" }] } });
    await eventually(() => agent.mux.openStreams === 0 && s.deps.agentConns.relays === 0, 5000, "no streams left");

    const binary = await open(`/api/v2/workspaceagents/${agentId}/pty?reconnect=${id}`);
    const got2 = collect(binary);
    binary.send(Buffer.from("raw"), { binary: true });
    expect((await got2.ended).code).toBe(4400);
    expect(agent.ptys[1]!.init).toEqual({ id, width: 80, height: 24 });
  });
});

describe("relay: server shutdown", () => {
  it("ends agent connections and relays promptly, even with a client that stopped reading", async () => {
    const own = await createTestServer({ listen: true });
    const fleet = await agentFleet(own);
    const { ws, tokens } = await startWorkspace(fleet, "shutdown", [{ name: "main" }]);
    const agent = await TestAgent.connect(own.url, tokens.main!);
    await eventually(() => own.deps.agentConns.get(ws.agents[0]!.id), 5000, "registered");
    const endless = randomBytes(64 * 1024);
    const port = await tcpServer((c) => {
      c.on("error", () => undefined);
      const pump = () => {
        while (c.writable && c.write(endless));
        if (c.writable) c.once("drain", pump);
      };
      pump();
    });
    const d = await dial(`${own.url.replace("http", "ws")}/api/v2/workspaceagents/${ws.agents[0]!.id}/connect?kind=tcp&port=${port}`, { "Outpost-Session-Token": fleet.ownerToken });
    if (!("socket" in d)) throw new Error("refused");
    const got = collect(d.socket);
    await eventually(() => got.bytes() > 0, 5000, "data");
    // Stop reading: the server's close frame will sit unread behind the data.
    d.socket.pause();
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await agent.closed).code).toBe(1001);
    d.socket.terminate();
  });
});
