// Opens the agent's WebSocket to the server's RPC endpoint. A refused upgrade carries the API error
// body (`{code, message, detail}`); it becomes a DialError whose text says what happened and what fixes
// it, because the agent's log is often the only place a workspace owner looks.
import { AGENT_API_VERSION, AGENT_TOKEN_HEADER } from "@outpost/sdk/agents";
import { AGENT_RPC_PATH, AGENT_VERSION_HEADER } from "@outpost/sdk/agent-rpc";
import WebSocket from "ws";

export class DialError extends Error {
  constructor(
    message: string,
    /** HTTP status of a refused upgrade (or of a 4000+status close code). */
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = "DialError";
  }
}

export interface DialOptions {
  url: string;
  token: string;
  /** Gives up on the upgrade after this long. Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The protocol version announced in the header. Default AGENT_API_VERSION (tests announce others). */
  apiVersion?: number;
}

export function rpcUrl(serverUrl: string): string {
  return `${serverUrl.replace(/\/+$/, "")}${AGENT_RPC_PATH}`;
}

/** Resolves with the open socket, paused (call resume()); rejects with a DialError saying why it could not connect. */
export function dialServer(options: DialOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener("abort", onAbort);
      if (err) {
        ws.removeAllListeners("open");
        ws.on("error", () => {}); // late errors of the aborted handshake
        if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
        reject(err);
      } else resolve(ws);
    };
    const onAbort = () => settle(new DialError("the agent is shutting down"));
    let ws: WebSocket;
    try {
      ws = new WebSocket(rpcUrl(options.url), {
        headers: { [AGENT_TOKEN_HEADER]: options.token, [AGENT_VERSION_HEADER]: String(options.apiVersion ?? AGENT_API_VERSION) },
        perMessageDeflate: false, // compression costs 90% of relay throughput (DESIGN.md)
        handshakeTimeout: options.timeoutMs ?? 30_000,
        maxPayload: 16 * 1024 * 1024,
        // An all-zero masking key: `ws` then sends each frame without XOR-copying the payload. Masking
        // (RFC 6455 10.3) keeps browser scripts from steering proxies with chosen bytes; the agent is not
        // a browser, and whoever controls the workspace can send raw TCP anyway.
        generateMask: (mask: Buffer) => void mask.fill(0),
      });
    } catch (err) {
      return reject(new DialError(`invalid server URL ${JSON.stringify(options.url)}: ${(err as Error).message}`));
    }
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    ws.once("open", () => {
      // The server speaks first, maybe in the same packet as the 101: hold incoming frames until the
      // caller has its handlers on (establish() resumes), or they would be emitted to nobody.
      ws.pause();
      settle(undefined);
    });
    ws.on("error", (err) => settle(new DialError(`cannot reach the server: ${describeNetError(err)}`)));
    ws.on("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (size < 65_536) chunks.push(c);
        size += c.length;
      });
      const done = () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const serverVersion = res.headers[AGENT_VERSION_HEADER.toLowerCase()];
        settle(refusal(res.statusCode ?? 0, body, typeof serverVersion === "string" ? serverVersion : undefined));
      };
      res.on("end", done);
      res.on("error", done);
    });
  });
}

/** Parses the API error body of a refused upgrade (or a close reason) into an explained DialError. */
export function refusal(status: number, body: string, serverVersion?: string): DialError {
  let code: string | undefined;
  let message = body.trim().slice(0, 500);
  let detail: string | undefined;
  try {
    const json = JSON.parse(body) as { code?: unknown; message?: unknown; detail?: unknown };
    if (typeof json.code === "string") code = json.code;
    if (typeof json.message === "string") message = json.message;
    if (typeof json.detail === "string") detail = json.detail;
  } catch {
    // not an API error body (a proxy's HTML page, or empty): keep the text
  }
  return new DialError(explain(status, message, detail, serverVersion), status, code);
}

export function explain(status: number, message: string, detail: string | undefined, serverVersion?: string): string {
  const said = [message, detail].filter(Boolean).join(": ") || "(no reason given)";
  if (status === 401 || status === 403) {
    return `the server refused the agent token (HTTP ${status}, ${said}). The workspace was stopped or rebuilt since this agent started (each build gives its agents a new token); this agent keeps retrying, but only a new agent started by the next build will get in`;
  }
  if (status === 426) {
    // The server names its own version after "server" ("... does not match the server's version 2").
    const theirs = serverVersion ?? /server\D*?(\d+)/i.exec(`${message} ${detail ?? ""}`)?.[1] ?? "another";
    return `the server speaks agent API version ${theirs} and this agent version ${AGENT_API_VERSION} (HTTP 426, ${said}): download the agent again from the server (/bin/outpost-agent-linux-amd64) or restart the workspace`;
  }
  if (status === 409) {
    return `another agent process connected with the same token and replaced this one (HTTP 409, ${said}): is the agent running twice in this workspace?`;
  }
  if (status === 400) return `the server says this agent broke the protocol (HTTP 400, ${said}): this is a bug, please report it with this log`;
  if (status === 404) return `the server has no agent endpoint at ${AGENT_RPC_PATH} (HTTP 404, ${said}): is OUTPOST_AGENT_URL the Outpost server's address?`;
  return `the server refused the connection (HTTP ${status}, ${said})`;
}

function describeNetError(err: Error & { code?: string }): string {
  return err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
}
