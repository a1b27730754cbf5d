// The server's side of the agent control stream (stream 0 of the mux): sends hello with the manifest,
// then reads newline-delimited AgentMessages for the life of the connection. Anything invalid closes
// the connection with a reason that names the problem; the server itself never throws over it.
import { AGENT_API_VERSION, type AgentManifest } from "@outpost/sdk/agents";
import { AGENT_CLOSE, AgentMessageSchema, encodeNdjson, NdjsonDecoder, type AgentMessage, type ServerHello } from "@outpost/sdk/agent-rpc";
import type { z } from "zod";
import type { AgentConnection } from "./agent-connection.js";
import { persistAgentMessages, type AgentSession } from "./agent-state.js";
import type { Deps } from "./deps.js";

/** PostgreSQL text and jsonb cannot hold U+0000: agents may report it (command output), so replace it. */
export function withoutNul<T>(value: T): T {
  if (typeof value === "string") return (value.includes("\u0000") ? value.replace(/\u0000/g, "\ufffd") : value) as T;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = withoutNul(v);
    return out as T;
  }
  return value;
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.map(String).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

function protocolError(deps: Deps, conn: AgentConnection, reason: string): void {
  deps.logger.warn({ agentId: conn.agentId, workspaceId: conn.workspaceId, reason }, "closing an agent connection: protocol error");
  conn.close(AGENT_CLOSE.PROTOCOL, reason);
}

/** Runs the control stream until the connection ends. Resolves; never rejects. */
export async function serveAgent(deps: Deps, conn: AgentConnection, manifest: AgentManifest): Promise<void> {
  const hello: ServerHello = { type: "hello", api_version: AGENT_API_VERSION, manifest };
  conn.mux.control.write(encodeNdjson(hello)).catch(() => undefined);
  const session: AgentSession = { conn, declaredMetadata: new Set(manifest.metadata.map((m) => String(m.key))) };
  const decoder = new NdjsonDecoder();
  for (;;) {
    let chunk: Uint8Array | null;
    try {
      chunk = await conn.mux.control.read();
    } catch {
      return; // the mux closed: the connection is over
    }
    if (chunk === null) return protocolError(deps, conn, "the agent ended the control stream");
    let values: unknown[];
    try {
      values = decoder.push(chunk);
    } catch (err) {
      return protocolError(deps, conn, `invalid agent message: ${(err as Error).message}`);
    }
    const messages: AgentMessage[] = [];
    for (const value of values) {
      const parsed = AgentMessageSchema.safeParse(value);
      if (!parsed.success) {
        const type = (value as { type?: unknown })?.type;
        return protocolError(deps, conn, `invalid agent message${typeof type === "string" ? ` (type ${JSON.stringify(type.slice(0, 32))})` : ""}: ${describeIssue(parsed.error)}`);
      }
      const m = parsed.data;
      if (m.type === "hello" && m.api_version !== AGENT_API_VERSION) {
        deps.logger.warn({ agentId: conn.agentId, agentApi: m.api_version }, "agent speaks another protocol version");
        return conn.close(AGENT_CLOSE.VERSION, `agent protocol version ${m.api_version} does not match the server's ${AGENT_API_VERSION}`);
      }
      messages.push(withoutNul(m));
    }
    if (messages.length === 0) continue;
    // Awaited before reading on: a flooding agent is slowed by the control stream's credit.
    try {
      await conn.run(() => persistAgentMessages(deps, session, messages));
    } catch (err) {
      deps.logger.error({ err, agentId: conn.agentId }, "storing agent messages failed");
    }
  }
}
