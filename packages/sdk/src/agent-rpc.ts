// The agent tunnel protocol above the mux (DESIGN.md, "Agent and connections").
//
// 1. The agent dials `AGENT_RPC_PATH` with its token in `AGENT_TOKEN_HEADER` and its protocol version in
//    `AGENT_VERSION_HEADER`. A wrong/revoked token, a missing or garbled version header or another version
//    is refused before the upgrade (401 / 400 / 426, the API error body naming why); once upgraded, the
//    server closes with the codes in AGENT_CLOSE.
// 2. Both sides run a `Mux` over the WebSocket (the agent is the initiator). Stream 0 carries newline-
//    delimited JSON: the server speaks first with `hello` (its version and the agent's manifest); the
//    agent checks the version again and answers with `AgentMessage`s for the life of the connection.
// 3. The server opens streams on the agent by kind (`STREAM_KIND`): an SSH connection, a TCP dial inside
//    the workspace, or a reconnecting terminal. The agent rejects what it cannot serve with a reason the
//    server passes on to the client (e.g. "nothing listens on 127.0.0.1:8080").
import { z } from "zod";
import { AgentLifecycleSchema, AgentLogLineSchema, AgentManifestSchema, AgentStatsSchema, ListeningPortSchema, MetadataResultSchema } from "./agents.js";

const timestamp = z.string().datetime({ offset: true });

export const AGENT_RPC_PATH = "/api/v2/workspaceagents/me/rpc";

/**
 * Close codes of the agent's WebSocket once upgraded (4000 + the HTTP status it would have been). Before
 * closing, the server sends GOAWAY(close) on the mux with the same reason. A keepalive timeout ends the
 * connection without a close frame (the peer is gone).
 */
export const AGENT_CLOSE = {
  /** The server is shutting down: reconnect with the usual backoff. */
  GOING_AWAY: 1001,
  /** The agent broke the protocol (invalid, unknown or oversized message, text frame, mux error); the reason says what. */
  PROTOCOL: 4400,
  /** The token was revoked while connected (workspace stopped, deleted or rebuilt): reconnecting gets 401. */
  REVOKED: 4401,
  /** A newer connection with the same token replaced this one (two agents sharing a token: back off). */
  REPLACED: 4409,
  /** The agent's hello named another api_version. */
  VERSION: 4426,
} as const;
/** The agent's `AGENT_API_VERSION`, sent on the upgrade request. */
export const AGENT_VERSION_HEADER = "Outpost-Agent-Api-Version";

/** Stream kinds the server opens on the agent. */
export const STREAM_KIND = {
  ssh: "ssh",
  /** `tcp:PORT`: the agent dials 127.0.0.1:PORT inside the workspace. */
  tcp: (port: number) => `tcp:${port}`,
  /** `pty`: a reconnecting terminal; the first line on the stream is a `PtyInit`, then `PtyInput` lines. */
  pty: "pty",
} as const;

export function parseTcpKind(kind: string): number | undefined {
  const m = /^tcp:(\d{1,5})$/.exec(kind);
  const port = m ? Number(m[1]) : NaN;
  return port >= 1 && port <= 65535 ? port : undefined;
}

// ---- server -> agent on stream 0 ----

export const ServerHelloSchema = z.object({
  type: z.literal("hello"),
  api_version: z.number().int(),
  manifest: AgentManifestSchema,
});
export type ServerHello = z.infer<typeof ServerHelloSchema>;

export const ServerMessageSchema = z.discriminatedUnion("type", [ServerHelloSchema]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;

// ---- agent -> server on stream 0 ----

export const AgentMessageSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("hello"), api_version: z.number().int(), version: z.string().max(64), os: z.string().max(32), arch: z.string().max(32), hostname: z.string().max(256) }),
  z.strictObject({ type: z.literal("lifecycle"), state: AgentLifecycleSchema, changed_at: timestamp }),
  z.strictObject({ type: z.literal("logs"), source: z.enum(["startup_script", "agent"]), lines: z.array(AgentLogLineSchema).min(1).max(1000) }),
  z.strictObject({ type: z.literal("metadata"), items: z.array(MetadataResultSchema).max(64) }),
  z.strictObject({ type: z.literal("ports"), ports: z.array(ListeningPortSchema).max(1024) }),
  z.strictObject({ type: z.literal("stats"), stats: AgentStatsSchema }),
]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;

/** Upper bound of one NDJSON line on stream 0; a longer line is a protocol error. */
export const MAX_RPC_LINE = 1024 * 1024;

// ---- the reconnecting terminal stream ----

export const PtyInitSchema = z.strictObject({
  /** Reconnect id: the same id reattaches to the same terminal with its scrollback. */
  id: z.string().uuid(),
  height: z.number().int().min(1).max(1000),
  width: z.number().int().min(1).max(1000),
  /** Command to run instead of the login shell (only when the terminal is created). */
  command: z.string().max(4096).optional(),
});
export type PtyInit = z.infer<typeof PtyInitSchema>;

/** What a terminal client sends (WebSocket text frames, and lines on the agent stream). */
export const PtyInputSchema = z.strictObject({
  data: z.string().max(1024 * 1024).optional(),
  height: z.number().int().min(1).max(1000).optional(),
  width: z.number().int().min(1).max(1000).optional(),
});
export type PtyInput = z.infer<typeof PtyInputSchema>;

/**
 * Splits a byte stream into newline-delimited JSON values (stream 0 and the terminal stream).
 * `push` returns the complete lines' parsed values; a line over `maxLine` or invalid JSON throws.
 */
export class NdjsonDecoder {
  private readonly decoder = new TextDecoder();
  private buffer = "";

  constructor(private readonly maxLine = MAX_RPC_LINE) {}

  push(chunk: Uint8Array): unknown[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    const out: unknown[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() === "") continue;
      out.push(JSON.parse(line));
    }
    if (this.buffer.length > this.maxLine) throw new Error(`a message is longer than ${this.maxLine} bytes`);
    return out;
  }
}

const encoder = new TextEncoder();

export function encodeNdjson(value: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(value)}\n`);
}
