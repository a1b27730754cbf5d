// One live tunnel: the mux over the open WebSocket, the server's hello read and checked, our hello sent,
// then every further server message validated. Anything wrong (a message that fails the sdk schema,
// bad JSON, another API version, no hello in time) is logged and drops this connection; the tunnel
// reconnects. Nothing the server sends can crash the agent.
import os from "node:os";
import { AGENT_API_VERSION } from "@outpost/sdk/agents";
import { encodeNdjson, ServerMessageSchema, type AgentMessage, type ServerHello } from "@outpost/sdk/agent-rpc";
import { Mux, type StreamHandler } from "@outpost/sdk/mux";
import type WebSocket from "ws";
import type { AgentClock } from "./clock.js";
import { explain } from "./dial.js";
import type { AgentLogger } from "./logger.js";
import { readNdjson } from "./ndjson-stream.js";

export interface ConnectionOptions {
  clock: AgentClock;
  log: AgentLogger;
  version: string;
  onStream: StreamHandler;
  /** Default 30 s. */
  helloTimeoutMs?: number;
  keepalive?: { intervalMs: number; timeoutMs: number };
}

export interface Connection {
  readonly mux: Mux;
  readonly hello: ServerHello;
  /** Writes one message on stream 0; resolves when it fits the server's window. */
  send(message: AgentMessage): Promise<void>;
  /** Resolves once, with why the connection ended. */
  readonly closed: Promise<Closed>;
  /** Closes the mux (GOAWAY) and the socket with a normal close. */
  close(reason: string): void;
}

export interface Closed {
  reason: string;
  /** The WebSocket close code the server sent, if a close frame came. */
  code?: number;
}

export class ConnectionError extends Error {
  /** `severe`: retrying alone will not fix it (logged as an error). */
  constructor(
    message: string,
    readonly severe = false,
  ) {
    super(message);
  }
}

export async function establish(ws: WebSocket, options: ConnectionOptions): Promise<Connection> {
  const { log, clock } = options;
  const mux = new Mux({
    isInitiator: true,
    send: (frame) => ws.send(frame),
    keepalive: options.keepalive ?? { intervalMs: 15_000, timeoutMs: 45_000 },
    clock,
    onStream: options.onStream,
  });
  const wsClosed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => {
      resolve({ code, reason: reason.toString("utf8") });
      mux.destroy(`websocket closed (code ${code})`);
    });
  });
  ws.on("message", (data, isBinary) => {
    if (!isBinary) return mux.close("text frame on the agent tunnel");
    mux.receive(data as Buffer);
  });
  ws.on("error", (err) => log.debug("websocket error", { error: err }));
  ws.resume(); // dialServer paused it so no frame arrives before these handlers
  const closed = mux.closed.then(async (err): Promise<Closed> => {
    // The server says why in its close frame (4000+status) right after its GOAWAY: wait for it briefly.
    if (ws.readyState === ws.OPEN) ws.close(1000, "agent closing");
    const frame = await Promise.race([wsClosed, delay(clock, 2000)]);
    if (!frame) ws.terminate();
    if (frame && frame.code >= 4000 && frame.code < 5000) return { reason: closeReason(frame.code, frame.reason), code: frame.code };
    return { reason: err.message, code: frame?.code };
  });
  const close = (reason: string) => {
    mux.close(reason);
    if (ws.readyState === ws.OPEN) ws.close(1000, reason.slice(0, 120));
  };

  const messages = readNdjson(mux.control);
  const hello = await firstHello(messages, clock, options.helloTimeoutMs ?? 30_000, closed).catch((err: Error) => {
    close(err.message);
    throw err;
  });
  if (hello.api_version !== AGENT_API_VERSION) {
    const message = `the server speaks agent API version ${hello.api_version} and this agent version ${AGENT_API_VERSION}: download the agent again from the server (/bin/outpost-agent-linux-amd64) or restart the workspace`;
    close("agent API version mismatch");
    throw new ConnectionError(message, true);
  }
  const send = (message: AgentMessage) => mux.control.write(encodeNdjson(message));
  await send({ type: "hello", api_version: AGENT_API_VERSION, version: options.version, os: os.platform(), arch: goArch(os.arch()), hostname: os.hostname().slice(0, 256) });

  void (async () => {
    try {
      for await (const value of messages) {
        const parsed = ServerMessageSchema.safeParse(value);
        if (!parsed.success) throw new Error(`invalid message from the server: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`);
        log.debug("server said hello again; keeping the first manifest");
      }
      if (!mux.isClosed) close("the server ended the control stream");
    } catch (err) {
      if (mux.isClosed) return;
      log.error("dropping the connection", { error: err });
      close((err as Error).message.slice(0, 200));
    }
  })();

  return { mux, hello, send, closed, close };
}

async function firstHello(messages: AsyncGenerator<unknown>, clock: AgentClock, timeoutMs: number, closed: Promise<Closed>): Promise<ServerHello> {
  let timer: unknown;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(new ConnectionError(`the server sent no hello within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  const gone = closed.then((why) => Promise.reject(new ConnectionError(`the connection closed before the server's hello: ${why.reason}`, why.code !== undefined && why.code >= 4000)));
  const read = (async () => {
    const first = await messages.next();
    if (first.done) throw new ConnectionError("the server ended the control stream before its hello");
    const parsed = ServerMessageSchema.safeParse(first.value);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new ConnectionError(`invalid hello from the server: ${i?.path.join(".") || "message"}: ${i?.message}`);
    }
    return parsed.data;
  })();
  try {
    return await Promise.race([read, timeout, gone]);
  } finally {
    clock.clearTimeout(timer);
  }
}

/** A close frame's meaning: 4000+status carries an HTTP status and the API error body or message. */
export function closeReason(code: number, reason: string): string {
  if (code >= 4000 && code < 5000) {
    const status = code - 4000;
    let message = reason;
    let detail: string | undefined;
    try {
      const json = JSON.parse(reason) as { message?: unknown; detail?: unknown };
      if (typeof json.message === "string") message = json.message;
      if (typeof json.detail === "string") detail = json.detail;
    } catch {
      // a plain reason
    }
    return explain(status, message, detail);
  }
  return `websocket closed (code ${code}${reason ? `, ${reason}` : ""})`;
}

function delay(clock: AgentClock, ms: number): Promise<undefined> {
  return new Promise((resolve) => clock.setTimeout(() => resolve(undefined), ms));
}

function goArch(arch: string): string {
  return arch === "x64" ? "amd64" : arch === "ia32" ? "386" : arch;
}
