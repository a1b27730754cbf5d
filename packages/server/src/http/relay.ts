// Client WebSocket <-> agent stream: raw bytes both ways, with backpressure both ways and one teardown.
//
// Not `createWebSocketStream` + `pipeline`: destroying that duplex terminates the socket without a close
// frame, so a client could not learn why its connection ended (agent gone: 4503, stream reset by the
// agent: 4502). Here the stream's `closed` promise is the single place everything ends:
// - client -> agent: each message is written to the stream; past MAX_PENDING_WRITES unacknowledged
//   writes (credit) the socket is paused, so a client faster than the agent stops being read.
// - agent -> client: the stream is read only while fewer than MAX_PENDING_SENDS chunks wait in the
//   socket, so a slow client stops the agent after one credit window. Chunks are views, never copied.
// - The client closing ends the upload (FIN); the agent then has CLIENT_GONE_GRACE_MS to finish before
//   the stream is reset. The agent ending (FIN) closes the socket with 1000.
import type { MuxStream } from "@outpost/sdk/mux";
import { encodeNdjson, PtyInputSchema } from "@outpost/sdk/agent-rpc";
import { ApiError } from "../errors.js";
import type { LiveSocket } from "./route.js";

/** What `ws` hands a message listener (Buffer with the default binaryType). */
type RawData = Buffer | ArrayBuffer | Buffer[];

const MAX_PENDING_WRITES = 8;
const MAX_PENDING_SENDS = 16;
const CLIENT_GONE_GRACE_MS = 5000;

export interface RelayOptions {
  /** The bytes a client message stands for; throws an ApiError for a message the client may not send. */
  encodeInput(data: Buffer, isBinary: boolean): Uint8Array;
  /** An empty binary message is the client's end-of-input (raw byte relays; a terminal has no EOF). */
  halfClose: boolean;
  /** Called once, when the relay is over. */
  onEnd(): void;
  /** Aborted when the server closes (or the connection ended: then the grace period decides). */
  signal: AbortSignal;
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** ssh and tcp relays: every message, text or binary, is bytes for the agent. */
export const rawBytes = (data: Buffer): Uint8Array => data;

/** The terminal relay: the client sends PtyInput JSON as text frames; the agent gets them as NDJSON lines. */
export function ptyInput(data: Buffer, isBinary: boolean): Uint8Array {
  if (isBinary) throw new ApiError("INVALID_INPUT", "send terminal input as text frames of PtyInput JSON");
  let value: unknown;
  try {
    value = JSON.parse(data.toString("utf8"));
  } catch {
    throw new ApiError("INVALID_INPUT", "terminal input is not JSON", undefined, [{ field: "message", detail: "must be a PtyInput JSON object" }]);
  }
  const parsed = PtyInputSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError("INVALID_INPUT", "invalid terminal input", undefined, [{ field: issue.path.map(String).join(".") || "message", detail: issue.message }]);
  }
  return encodeNdjson(parsed.data);
}

function sendError(socket: LiveSocket, err: ApiError): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.send(JSON.stringify({ type: "error", error: err.toResponse() }));
  socket.close(4000 + err.status, err.message.slice(0, 100));
}

export function relay(socket: LiveSocket, stream: MuxStream, opts: RelayOptions): void {
  let resetHere = false;
  let grace: NodeJS.Timeout | undefined;
  const reset = (reason: string) => {
    resetHere = true;
    stream.reset(reason);
  };

  let pendingWrites = 0;
  let paused = false;
  const onMessage = (data: RawData, isBinary: boolean) => {
    // Raw relays: an empty binary message is the client's end-of-input (a half-close, e.g. a port
    // forward whose local client sent FIN); the agent's side goes on until it ends too.
    if (opts.halfClose && isBinary && asBuffer(data).length === 0) {
      if (!stream.isClosed) stream.end();
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = opts.encodeInput(asBuffer(data), isBinary);
    } catch (err) {
      reset("the client sent invalid input");
      return sendError(socket, err instanceof ApiError ? err : new ApiError("INVALID_INPUT", String(err)));
    }
    pendingWrites++;
    stream.write(bytes).then(
      () => {
        pendingWrites--;
        if (paused && pendingWrites <= MAX_PENDING_WRITES / 2) {
          paused = false;
          socket.resume();
        }
      },
      () => undefined, // the stream failed: `closed` below ends the relay
    );
    if (!paused && pendingWrites >= MAX_PENDING_WRITES) {
      paused = true;
      socket.pause();
    }
  };
  socket.on("message", onMessage);

  let sending = 0;
  let wake: (() => void) | undefined;
  const resume = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onSent = () => {
    sending--;
    if (sending <= MAX_PENDING_SENDS / 2) resume();
  };
  const onClose = () => {
    resume();
    if (stream.isClosed) return;
    stream.end();
    grace = setTimeout(() => reset("the client went away"), CLIENT_GONE_GRACE_MS);
    grace.unref();
  };
  socket.once("close", onClose);

  const onAbort = () => {
    if (socket.readyState !== socket.OPEN) return; // the client left: the grace period above applies
    reset("server shutting down");
    socket.close(1001, "server shutting down");
  };
  if (opts.signal.aborted) onAbort();
  else opts.signal.addEventListener("abort", onAbort, { once: true });

  void (async () => {
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await stream.read();
      } catch {
        return; // reset or the agent went away: `closed` reports it
      }
      if (chunk === null) {
        if (socket.readyState === socket.OPEN) socket.close(1000, "closed by the agent");
        return;
      }
      if (socket.readyState !== socket.OPEN) return reset("the client went away");
      sending++;
      socket.send(chunk, { binary: true }, onSent);
      if (sending >= MAX_PENDING_SENDS) await new Promise<void>((resolve) => (wake = resolve));
    }
  })();

  void stream.closed.then((err) => {
    clearTimeout(grace);
    socket.off("message", onMessage);
    socket.off("close", onClose);
    opts.signal.removeEventListener("abort", onAbort);
    if (paused) socket.resume();
    opts.onEnd();
    if (!err || resetHere) {
      if (socket.readyState === socket.OPEN) socket.close(1000, "closed");
      return;
    }
    // The agent reset the stream, or its connection (and every stream on it) ended.
    const gone = err.code !== "RESET";
    sendError(socket, new ApiError(gone ? "UNAVAILABLE" : "BAD_GATEWAY", gone ? `the agent went away: ${err.message}` : `the agent closed the connection: ${err.message}`));
  });
}
