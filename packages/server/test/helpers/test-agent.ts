// A small agent for server tests: the real protocol (WebSocket, Mux, NDJSON on stream 0) from the
// agent's side, with simple stream handlers: ssh echoes, tcp:PORT dials 127.0.0.1:PORT for real, pty
// records its init and inputs and echoes the input data as output.
import net from "node:net";
import { pipeline } from "node:stream/promises";
import WebSocket from "ws";
import { AGENT_API_VERSION, AGENT_TOKEN_HEADER } from "@outpost/sdk/agents";
import { AGENT_RPC_PATH, AGENT_VERSION_HEADER, encodeNdjson, NdjsonDecoder, parseTcpKind, ServerHelloSchema, type AgentMessage, type ServerHello } from "@outpost/sdk/agent-rpc";
import { Mux, type IncomingStream, type MuxStream } from "@outpost/sdk/mux";
import { toDuplex } from "../../../agent/src/mux-duplex.js";

export interface PtySeen {
  init: unknown;
  inputs: unknown[];
}

export interface TestAgentOptions {
  apiVersion?: number;
  /** Skip the agent's own hello (the server must cope). */
  noHello?: boolean;
  /** Replaces the default stream handlers. */
  onStream?: (req: IncomingStream) => void | Promise<void>;
}

export class AgentRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`agent connection refused: ${status} ${body}`);
  }
}

export class TestAgent {
  readonly mux: Mux;
  hello!: ServerHello;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly ptys: PtySeen[] = [];
  /** Kinds of the streams the server opened, in order. */
  readonly opened: string[] = [];

  private constructor(
    readonly ws: WebSocket,
    opts: TestAgentOptions,
  ) {
    this.mux = new Mux({ isInitiator: true, send: (f) => ws.send(f), onStream: opts.onStream ?? ((req) => this.serve(req)) });
    ws.on("message", (data) => this.mux.receive(data as Buffer));
    this.closed = new Promise((resolve) =>
      ws.once("close", (code, reason) => {
        this.mux.destroy("websocket closed");
        resolve({ code, reason: reason.toString() });
      }),
    );
  }

  static async connect(baseUrl: string, token: string, opts: TestAgentOptions = {}): Promise<TestAgent> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}${AGENT_RPC_PATH}`, {
      headers: { [AGENT_TOKEN_HEADER]: token, [AGENT_VERSION_HEADER]: String(opts.apiVersion ?? AGENT_API_VERSION) },
      perMessageDeflate: false,
    });
    // Listeners first: the server's hello can arrive in the same read as the upgrade response.
    const agent = new TestAgent(ws, opts);
    await new Promise<void>((resolve, reject) => {
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => reject(new AgentRefused(res.statusCode ?? 0, body)));
      });
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    agent.hello = ServerHelloSchema.parse(await agent.readControl());
    if (!opts.noHello) await agent.send({ type: "hello", api_version: AGENT_API_VERSION, version: "9.9.9-test", os: "linux", arch: "amd64", hostname: "test-host" });
    return agent;
  }

  private readonly decoder = new NdjsonDecoder();
  private readonly pending: unknown[] = [];

  /** The next NDJSON value the server sent on stream 0. */
  async readControl(): Promise<unknown> {
    while (this.pending.length === 0) {
      const chunk = await this.mux.control.read();
      if (chunk === null) throw new Error("control stream ended");
      this.pending.push(...this.decoder.push(chunk));
    }
    return this.pending.shift();
  }

  send(message: AgentMessage): Promise<void> {
    return this.mux.control.write(encodeNdjson(message));
  }

  /** Raw bytes on stream 0 (for malformed input). */
  sendRaw(bytes: Uint8Array | string): Promise<void> {
    return this.mux.control.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
  }

  close(): void {
    this.ws.close(1000, "test agent done");
  }

  private async serve(req: IncomingStream): Promise<void> {
    this.opened.push(req.kind);
    if (req.kind === "ssh") return void echo(req.accept());
    if (req.kind === "pty") return void this.servePty(req.accept());
    const port = parseTcpKind(req.kind);
    if (port === undefined) return req.reject(`unknown stream kind ${req.kind}`);
    const sock = await new Promise<net.Socket | undefined>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
      s.once("error", () => resolve(undefined));
    });
    if (!sock) return req.reject(`nothing listens on 127.0.0.1:${port}`);
    const d = toDuplex(req.accept());
    pipeline(d, sock, d).catch(() => undefined);
  }

  private async servePty(s: MuxStream): Promise<void> {
    const seen: PtySeen = { init: undefined, inputs: [] };
    this.ptys.push(seen);
    const decoder = new NdjsonDecoder();
    try {
      for await (const chunk of s) {
        for (const value of decoder.push(chunk)) {
          if (seen.init === undefined) {
            seen.init = value;
            await s.write(new TextEncoder().encode("$ "));
            continue;
          }
          seen.inputs.push(value);
          const input = value as { data?: string; width?: number; height?: number };
          if (input.data) await s.write(new TextEncoder().encode(input.data));
          if (input.width) await s.write(new TextEncoder().encode(`[resized ${input.width}x${input.height}]`));
        }
      }
      s.end();
    } catch {
      // reset: the terminal's client went away
    }
  }
}

async function echo(s: MuxStream): Promise<void> {
  try {
    for await (const chunk of s) await s.write(chunk);
    s.end();
  } catch {
    // reset by the server
  }
}
