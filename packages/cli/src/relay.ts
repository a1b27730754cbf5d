// Client side of the server's relay WebSockets (`outpost ssh --stdio`, `outpost port-forward`): one
// WebSocket per connection, raw bytes as binary frames. Zod-free and light on imports on purpose: this
// runs at the start of every SSH connection (DESIGN.md, "Facts measured here for the SSH relay").
//
// Errors come in two shapes (packages/sdk/src/agents.ts): refused before the upgrade, a plain HTTP
// error with the API error body; after the upgrade, a text frame `{"type":"error","error":{...}}`
// and then a close with code 4000+status.
import type { Readable, Writable } from "node:stream";
import { Writable as WritableStream } from "node:stream";
import { SESSION_TOKEN_HEADER, workspaceConnectPath } from "@outpost/sdk/wire-names";
import { ConnectFailed, connectWebSocket, UpgradeRefused, type WsConnection } from "./ws-client.js";
import type { WorkspaceTarget } from "./workspace-target.js";

export type RelayKind = { kind: "ssh" } | { kind: "tcp"; port: number };

/** The relay WebSocket URL for a target: the server resolves owner, workspace and agent by name. */
export function relayUrl(deployment: string, target: WorkspaceTarget, what: RelayKind): string {
  const url = new URL(deployment.replace(/\/+$/, "") + workspaceConnectPath(target.owner, target.name));
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("kind", what.kind);
  if (what.kind === "tcp") url.searchParams.set("port", String(what.port));
  if (target.agent) url.searchParams.set("agent", target.agent);
  return url.toString();
}

/** The server refused or ended a relay connection, with its message (or the transport's reason). */
export class RelayError extends Error {
  constructor(
    message: string,
    /** The API error code (NOT_FOUND, CONFLICT, ...), or UNAVAILABLE when the server was not reached. */
    readonly code: string,
    /** The error's detail and its validations (`field: detail`), one line each. */
    readonly detail: string[] = [],
  ) {
    super(message);
  }
}

/** The API error body (or the error frame's `error`), read without zod: only its shape matters here. */
function apiError(text: string, fallback: string): RelayError {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const e = (body && typeof body.error === "object" && body.error !== null ? body.error : body) as { code?: unknown; message?: unknown; detail?: unknown; validations?: unknown };
    if (typeof e.message === "string" && e.message !== "") {
      const detail = typeof e.detail === "string" && e.detail !== "" ? [e.detail] : [];
      for (const v of Array.isArray(e.validations) ? (e.validations as { field?: unknown; detail?: unknown }[]) : []) {
        if (typeof v?.field === "string" && typeof v.detail === "string") detail.push(`${v.field}: ${v.detail}`);
      }
      return new RelayError(e.message, typeof e.code === "string" ? e.code : "INTERNAL", detail);
    }
  } catch {
    // not JSON: a proxy's error page, say
  }
  return new RelayError(fallback, "INTERNAL");
}

/** Opens a relay WebSocket; rejects with the server's error when it refuses the upgrade. */
export async function openRelay(url: string, token: string): Promise<WsConnection> {
  try {
    return await connectWebSocket(url, { [SESSION_TOKEN_HEADER]: token });
  } catch (err) {
    if (err instanceof UpgradeRefused) throw apiError(err.body, err.message);
    if (err instanceof ConnectFailed) throw new RelayError(err.message, "UNAVAILABLE");
    throw err;
  }
}

const EMPTY = new Uint8Array(0);

export type RelayEnd = { ok: true } | { ok: false; error: RelayError };

/**
 * Carries bytes both ways until the WebSocket closes: input -> binary frames, binary frames -> output,
 * with backpressure each way (a full output pauses the socket; unsent frames pause the input). The
 * end of input closes the WebSocket normally, or with `halfClose` sends end-of-input and goes on
 * reading until the server closes. Resolves how it ended: normally (either side closed), or
 * with the server's error (the agent went away, say) or the transport's (the connection dropped).
 */
export async function pipeRelay(ws: WsConnection, input: Readable, output: Writable, opts: { halfClose?: boolean } = {}): Promise<RelayEnd> {
  let serverError: RelayError | undefined;
  ws.onMessage((data, binary) => {
    if (!binary) {
      serverError = apiError(data.toString("utf8"), "the server reported an error");
      return;
    }
    if (!output.write(data)) {
      ws.pause();
      output.once("drain", () => ws.resume());
    }
  });
  const sink = new WritableStream({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      ws.send(chunk, (err) => callback(err ?? undefined));
    },
    final(callback) {
      // Half-close (port forwards): an empty binary message is end-of-input; the server ends the agent's
      // stream and closes once the other side has ended too. Otherwise the end of input ends it all.
      if (opts.halfClose) ws.send(EMPTY, (err) => callback(err ?? undefined));
      else {
        ws.close(1000);
        callback();
      }
    },
  });
  sink.on("error", () => {}); // a failed send shows as the WebSocket's close
  input.pipe(sink);
  // An input destroyed without an end (a reset local connection) ends the relay too.
  input.once("close", () => ws.close(1000));
  const { code, reason, error } = await ws.closed;
  input.unpipe(sink);
  if (serverError) return { ok: false, error: serverError };
  if (code === 1000 || code === 1005) return { ok: true };
  // 4000+status without the error frame: the reason is all the server said.
  if (code >= 4000 && code < 5000) return { ok: false, error: new RelayError(reason || `the server closed the connection (${code})`, "INTERNAL") };
  const why = error ? ((error as NodeJS.ErrnoException).code ?? error.message) : reason || (code === 1006 ? "the connection broke off" : `closed with code ${code}`);
  return { ok: false, error: new RelayError(why, "UNAVAILABLE") };
}
