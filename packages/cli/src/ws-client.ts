// A small RFC 6455 WebSocket client over node:net (node:tls for wss), for the relay connections only.
// Why not the `ws` package: importing it costs 35-45 ms on this machine, more than the rest of
// `outpost ssh --stdio`'s start, and that start is every SSH connection's setup time (DESIGN.md, "Facts
// measured here for the SSH relay": a net-only client starts like bare node). What it does: the
// upgrade handshake (with the accept check), masked frames out, unmasked frames in (fragments,
// ping/pong, close), no extensions (compression stays off: it would cost ~90% of the throughput).
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import { ResponseParser } from "./ws-http.js";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Larger messages close the connection (1009): the relay sends mux-sized chunks (64 KiB). */
const MAX_MESSAGE = 16 * 1024 * 1024;

export interface CloseInfo {
  /** The close frame's code; 1006 when the connection ended without one. */
  code: number;
  reason: string;
  /** The transport error, when the connection broke. */
  error?: Error;
}

/** The server answered the upgrade with an HTTP response instead (an API error, usually). */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly body: string,
  ) {
    super(`the server answered ${status} ${statusText}`.trim());
  }
}

/** The socket could not be reached, or broke during the handshake. */
export class ConnectFailed extends Error {
  constructor(
    readonly host: string,
    readonly reason: Error,
  ) {
    super(`cannot reach ${host}: ${(reason as NodeJS.ErrnoException).code ?? reason.message}`);
  }
}

// Masking keys come from a pool of random bytes refilled a few KiB at a time (as `ws` does).
class MaskPool {
  private pool = Buffer.alloc(0);
  private at = 0;
  next(): Buffer {
    if (this.at + 4 > this.pool.length) {
      this.pool = randomBytes(8192);
      this.at = 0;
    }
    this.at += 4;
    return this.pool.subarray(this.at - 4, this.at);
  }
}

/** One masked frame in one buffer; the payload starts 4-aligned so it is masked 32 bits at a time. */
export function encodeFrame(opcode: number, payload: Uint8Array, mask: Buffer): Buffer {
  const n = payload.length;
  const lenBytes = n < 126 ? 0 : n < 65_536 ? 2 : 8;
  const header = 2 + lenBytes + 4;
  const pad = (4 - (header % 4)) % 4;
  const buf = Buffer.allocUnsafeSlow(pad + header + n);
  let o = pad;
  buf[o++] = 0x80 | opcode;
  buf[o++] = 0x80 | (lenBytes === 0 ? n : lenBytes === 2 ? 126 : 127);
  if (lenBytes === 2) o = buf.writeUInt16BE(n, o);
  else if (lenBytes === 8) o = buf.writeBigUInt64BE(BigInt(n), o);
  mask.copy(buf, o);
  o += 4;
  buf.set(payload, o);
  const words = n >>> 2;
  const m32 = buf.readInt32LE(o - 4);
  const view = new Int32Array(buf.buffer, buf.byteOffset + o, words);
  for (let i = 0; i < words; i++) view[i]! ^= m32;
  for (let i = words << 2; i < n; i++) buf[o + i]! ^= mask[i & 3]!;
  return buf.subarray(pad);
}

const ZERO_MASK = Buffer.alloc(4);

/** A frame header with the all-zero masking key; the unmasked payload follows as is. */
export function frameHeader(opcode: number, n: number): Buffer {
  const lenBytes = n < 126 ? 0 : n < 65_536 ? 2 : 8;
  const buf = Buffer.allocUnsafe(2 + lenBytes + 4);
  let o = 0;
  buf[o++] = 0x80 | opcode;
  buf[o++] = 0x80 | (lenBytes === 0 ? n : lenBytes === 2 ? 126 : 127);
  if (lenBytes === 2) o = buf.writeUInt16BE(n, o);
  else if (lenBytes === 8) o = buf.writeBigUInt64BE(BigInt(n), o);
  ZERO_MASK.copy(buf, o);
  return buf;
}

type MessageListener = (data: Buffer, binary: boolean) => void;

export class WsConnection {
  readonly closed: Promise<CloseInfo>;
  private listener: MessageListener | undefined;
  /** Messages that arrived before `onMessage` (with the upgrade answer, say). */
  private early: [Buffer, boolean][] = [];
  private resolveClosed!: (info: CloseInfo) => void;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private text: Buffer[] | undefined;
  private textLength = 0;
  private messageOpcode = 0;
  private closeSent = false;
  private done = false;
  private readonly masks = new MaskPool();

  constructor(
    readonly socket: net.Socket,
    head: Buffer,
  ) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
    socket.setNoDelay(true);
    let error: Error | undefined;
    socket.on("data", (d: Buffer) => this.receive(d));
    socket.on("error", (err) => (error = err));
    socket.on("close", () => this.finish({ code: 1006, reason: "", ...(error ? { error } : {}) }));
    if (head.length > 0) this.receive(head);
  }

  /** Each binary message (or fragment of one: binary messages are a byte stream here), each whole text message. */
  onMessage(listener: MessageListener): void {
    this.listener = listener;
    for (const [data, binary] of this.early.splice(0)) listener(data, binary);
  }

  private emit(data: Buffer, binary: boolean): void {
    if (this.listener) this.listener(data, binary);
    else this.early.push([data, binary]);
  }

  /** Sends one binary frame; false when the socket's buffer is full (wait for its "drain"). */
  send(data: Uint8Array, callback?: (err?: Error | null) => void): boolean {
    if (this.closeSent || this.done) {
      callback?.(new Error("the WebSocket is closed"));
      return false;
    }
    // Data frames carry an all-zero mask (what the frame's XOR would do is nothing): the header and the
    // payload go out in one writev, no copy. Masking (RFC 6455 10.3) keeps browser scripts from steering
    // proxies with chosen bytes; this client is not a browser, and its user can send raw TCP anyway.
    this.socket.cork();
    this.socket.write(frameHeader(0x2, data.length));
    const ok = this.socket.write(data, callback);
    this.socket.uncork();
    return ok;
  }

  /** Starts the closing handshake; the server answers and closes the TCP connection. */
  close(code = 1000, reason = ""): void {
    if (this.closeSent || this.done) return;
    this.closeSent = true;
    const r = Buffer.from(reason.slice(0, 120), "utf8");
    const payload = Buffer.alloc(2 + r.length);
    payload.writeUInt16BE(code, 0);
    r.copy(payload, 2);
    this.socket.write(encodeFrame(0x8, payload, this.masks.next()));
    // A server that never answers must not keep us: give it a moment, then drop the connection.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private finish(info: CloseInfo): void {
    if (this.done) return;
    this.done = true;
    this.resolveClosed(info);
  }

  private fail(code: number, reason: string): void {
    this.close(code, reason);
    this.finish({ code, reason, error: new Error(reason) });
    this.socket.end();
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
    } else if (first.length > n) {
      this.chunks[0] = first.subarray(n);
    } else {
      const out = Buffer.allocUnsafe(n);
      let o = 0;
      while (o < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - o);
        c.copy(out, o, 0, k);
        o += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
      this.buffered -= n;
      return out;
    }
    this.buffered -= n;
    return first.subarray(0, n);
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    return Buffer.concat(this.chunks, Math.min(this.buffered, 14));
  }

  private receive(data: Buffer): void {
    this.chunks.push(data);
    this.buffered += data.length;
    while (!this.done && this.buffered >= 2) {
      const h = this.peek(Math.min(this.buffered, 14));
      const fin = (h[0]! & 0x80) !== 0;
      const opcode = h[0]! & 0x0f;
      if ((h[0]! & 0x70) !== 0) return this.fail(1002, "reserved bits set (no extension was negotiated)");
      if ((h[1]! & 0x80) !== 0) return this.fail(1002, "a server frame is masked");
      let len = h[1]! & 0x7f;
      let header = 2;
      if (len === 126) {
        if (this.buffered < 4) return;
        len = h.readUInt16BE(2);
        header = 4;
      } else if (len === 127) {
        if (this.buffered < 10) return;
        const big = h.readBigUInt64BE(2);
        if (big > BigInt(MAX_MESSAGE)) return this.fail(1009, "message too big");
        len = Number(big);
        header = 10;
      }
      if (this.buffered < header + len) return;
      this.take(header);
      const payload = len > 0 ? this.take(len) : Buffer.alloc(0);
      this.frame(fin, opcode, payload);
    }
  }

  private frame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode >= 0x8) {
      if (!fin || payload.length > 125) return this.fail(1002, "invalid control frame");
      if (opcode === 0x9) {
        if (!this.closeSent) this.socket.write(encodeFrame(0xa, payload, this.masks.next()));
      } else if (opcode === 0x8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = payload.subarray(2).toString("utf8");
        if (!this.closeSent) {
          this.closeSent = true;
          this.socket.write(encodeFrame(0x8, payload.subarray(0, 2), this.masks.next()));
        }
        this.finish({ code, reason });
        this.socket.end();
      } else if (opcode !== 0xa) {
        return this.fail(1002, `unknown opcode ${opcode}`);
      }
      return;
    }
    if (opcode === 0x0) {
      if (this.messageOpcode === 0) return this.fail(1002, "continuation without a message");
    } else if (opcode === 0x1 || opcode === 0x2) {
      if (this.messageOpcode !== 0) return this.fail(1002, "a new message inside a fragmented one");
      this.messageOpcode = opcode;
    } else {
      return this.fail(1002, `unknown opcode ${opcode}`);
    }
    const binary = this.messageOpcode === 0x2;
    if (fin) this.messageOpcode = 0;
    // Each binary fragment goes on at once; text is collected.
    if (binary) {
      if (payload.length > 0) this.emit(payload, true);
      return;
    }
    this.text ??= [];
    this.text.push(payload);
    this.textLength += payload.length;
    if (this.textLength > MAX_MESSAGE) return this.fail(1009, "message too big");
    if (fin) {
      const whole = Buffer.concat(this.text, this.textLength);
      this.text = undefined;
      this.textLength = 0;
      this.emit(whole, false);
    }
  }
}

/**
 * Dials `url` (ws: or wss:) and performs the upgrade with extra request headers. Rejects with
 * ConnectFailed (no connection) or UpgradeRefused (an HTTP answer, e.g. the API's JSON error).
 */
export async function connectWebSocket(url: string, headers: Record<string, string>, opts: { timeoutMs?: number } = {}): Promise<WsConnection> {
  const u = new URL(url);
  const secure = u.protocol === "wss:";
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(u.port || (secure ? 443 : 80));
  const socket: net.Socket = secure
    ? (await import("node:tls")).connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ["http/1.1"] })
    : net.connect({ host, port });
  const key = randomBytes(16).toString("base64");
  const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Key: ${key}`, "Sec-WebSocket-Version: 13"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  socket.write(lines.join("\r\n") + "\r\n\r\n");
  return new Promise((resolve, reject) => {
    const parser = new ResponseParser();
    const onError = (err: Error) => {
      cleanup();
      reject(new ConnectFailed(u.host, err));
    };
    const onClose = () => onData(Buffer.alloc(0), true);
    const onData = (d: Buffer, ended = false) => {
      let r;
      try {
        r = parser.push(d, ended);
      } catch (err) {
        cleanup();
        socket.destroy();
        return reject(new ConnectFailed(u.host, err as Error));
      }
      if (!r) return;
      cleanup();
      if (r.status !== 101) {
        socket.destroy();
        return reject(new UpgradeRefused(r.status, r.statusText, r.body.toString("utf8")));
      }
      const accept = createHash("sha1").update(key + GUID).digest("base64");
      if (r.headers.get("sec-websocket-accept") !== accept || (r.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
        socket.destroy();
        return reject(new ConnectFailed(u.host, new Error("the server's upgrade answer is not a valid WebSocket handshake")));
      }
      if (r.headers.has("sec-websocket-extensions")) {
        socket.destroy();
        return reject(new ConnectFailed(u.host, new Error("the server enabled a WebSocket extension that was not offered")));
      }
      resolve(new WsConnection(socket, r.rest));
    };
    // The server answers within its own 15 s limit for reaching the agent; past this, it is not answering.
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      cleanup();
      socket.destroy();
      reject(new ConnectFailed(u.host, new Error(`no answer within ${timeoutMs / 1000} s`)));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
  });
}
