// One live agent connection: its mux, who it is, and a queue that keeps its database writes in order
// (connect, each batch of messages, disconnect). Knows nothing about WebSockets: the HTTP layer gives it
// a link to close the transport.
import type { Mux } from "@outpost/sdk/mux";

/** The transport under the mux, as the HTTP layer exposes it. */
export interface AgentLink {
  /** Closes the transport with a WebSocket close code and reason. */
  close(code: number, reason: string): void;
  /** Drops the transport without a close handshake (the peer is unresponsive). */
  terminate(): void;
}

/** What the agent said about itself in its hello. */
export interface AgentHelloInfo {
  version: string;
  api_version: number;
  os: string;
  arch: string;
  hostname: string;
}

export class AgentConnection {
  /** The agent's row; changes when a build keeps the agent's resource (its token moves to the new row). */
  agentId: string;
  readonly agentName: string;
  readonly workspaceId: string;
  readonly hashedToken: Buffer;
  readonly connectedAt: Date;
  hello: AgentHelloInfo | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private closedWith: string | undefined;

  constructor(
    readonly mux: Mux,
    private readonly link: AgentLink,
    init: { agentId: string; agentName: string; workspaceId: string; hashedToken: Buffer; connectedAt: Date },
  ) {
    this.agentId = init.agentId;
    this.agentName = init.agentName;
    this.workspaceId = init.workspaceId;
    this.hashedToken = init.hashedToken;
    this.connectedAt = init.connectedAt;
  }

  /** Runs `fn` after everything queued before it (it runs even if an earlier one failed). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Tells the agent why (GOAWAY on the mux, then the WebSocket close reason) and closes. */
  close(code: number, reason: string): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    this.mux.close(reason);
    // A close reason is at most 123 bytes of UTF-8.
    this.link.close(code, truncateUtf8(reason, 123));
  }

  terminate(reason: string): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    this.mux.destroy(reason);
    this.link.terminate();
  }
}

export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = text.slice(0, maxBytes);
  while (Buffer.byteLength(out) > maxBytes - 3) out = out.slice(0, -1);
  return `${out}...`;
}
