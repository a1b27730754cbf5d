// A minimal server side of the agent protocol for protocol tests: a `ws` WebSocketServer on 127.0.0.1
// that checks the agent's headers, can refuse the upgrade with an API error body, runs a Mux
// (not the initiator) over each connection, sends the hello and records what the agent says.
// The tunnel tests against the real server are in tunnel-server.test.ts; this peer lets tests do what
// the real server never does (a wrong hello, garbage on stream 0).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { AGENT_API_VERSION, type AgentManifest } from "@outpost/sdk/agents";
import { AGENT_RPC_PATH, AgentMessageSchema, encodeNdjson, NdjsonDecoder, type AgentMessage } from "@outpost/sdk/agent-rpc";
import { Mux } from "@outpost/sdk/mux";
import { WebSocketServer, type WebSocket } from "ws";

export const PEER_TOKEN = "t".repeat(43);

export function testManifest(overrides: Partial<AgentManifest> = {}): AgentManifest {
  return {
    api_version: AGENT_API_VERSION,
    agent_id: "00000000-0000-4000-8000-000000000001",
    agent_name: "main",
    workspace_id: "00000000-0000-4000-8000-000000000002",
    workspace_name: "ws",
    owner_username: "owner",
    directory: "",
    env: {},
    startup_script: "",
    startup_script_behavior: "non-blocking",
    startup_script_timeout_seconds: 0,
    connection_timeout_seconds: 120,
    apps: [],
    metadata: [],
    ...overrides,
  };
}

export interface PeerConnection {
  ws: WebSocket;
  mux: Mux;
  messages: AgentMessage[];
  headers: http.IncomingHttpHeaders;
}

export interface PeerOptions {
  manifest?: AgentManifest;
  /** Refuse the upgrade: status and JSON body. */
  refuse?: () => { status: number; body: unknown } | undefined;
  /** What to send first on stream 0 instead of the normal hello; null: nothing. */
  hello?: () => unknown;
}

export interface Peer {
  url: string;
  connections: PeerConnection[];
  /** Upgrade attempts, refused or not. */
  attempts: number;
  options: PeerOptions;
  /** Agent messages that failed the sdk schema (a test should expect none). */
  invalid: unknown[];
  /** Every message of every connection, in order. */
  all(): AgentMessage[];
  waitFor<T>(get: () => T | undefined | false, ms?: number): Promise<T>;
  close(): Promise<void>;
}

export async function startPeer(options: PeerOptions = {}): Promise<Peer> {
  const http_ = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const peer: Peer = {
    url: "",
    connections: [],
    attempts: 0,
    invalid: [],
    options,
    all: () => peer.connections.flatMap((c) => c.messages),
    async waitFor(get, ms = 10_000) {
      const end = Date.now() + ms;
      for (;;) {
        const v = get();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out; agent said: ${JSON.stringify(peer.all().map((m) => m.type))}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      for (const c of peer.connections) c.ws.terminate();
      wss.close();
      http_.closeAllConnections();
      await new Promise((r) => http_.close(r));
    },
  };
  http_.on("upgrade", (req, socket, head) => {
    peer.attempts++;
    const refusal = peer.options.refuse?.();
    if (req.url !== AGENT_RPC_PATH || refusal) {
      const { status, body } = refusal ?? { status: 404, body: { code: "NOT_FOUND", message: "no such path" } };
      const text = JSON.stringify(body);
      socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const mux = new Mux({ isInitiator: false, send: (f) => ws.send(f) });
      const conn: PeerConnection = { ws, mux, messages: [], headers: req.headers };
      peer.connections.push(conn);
      ws.on("message", (data) => mux.receive(data as Buffer));
      ws.on("close", () => mux.destroy("websocket closed"));
      const hello = peer.options.hello ? peer.options.hello() : { type: "hello", api_version: AGENT_API_VERSION, manifest: peer.options.manifest ?? testManifest() };
      if (hello !== null) void mux.control.write(encodeNdjson(hello));
      void (async () => {
        const decoder = new NdjsonDecoder();
        try {
          for await (const chunk of mux.control) {
            for (const value of decoder.push(chunk)) {
              const parsed = AgentMessageSchema.safeParse(value);
              if (parsed.success) conn.messages.push(parsed.data);
              else peer.invalid.push(value);
            }
          }
          ws.close(1000, "the agent ended the control stream"); // as the real server does (after reading all)
        } catch {
          // connection gone
        }
      })();
    });
  });
  await new Promise<void>((r) => http_.listen(0, "127.0.0.1", r));
  peer.url = `http://127.0.0.1:${(http_.address() as AddressInfo).port}`;
  return peer;
}
