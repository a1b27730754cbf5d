// The HTTP/1.1 answer to a WebSocket upgrade request, parsed incrementally: the 101 with its headers
// (and any frame bytes that came with it), or an error response with its body (Content-Length,
// chunked, or up to the end of the connection), which is where the API puts its error message.

const MAX_HEAD = 16 * 1024;
/** An error body is a short JSON document; more is cut off. */
const MAX_BODY = 64 * 1024;

export interface UpgradeResponse {
  status: number;
  statusText: string;
  headers: Map<string, string>;
  /** The error response's body (empty for a 101). */
  body: Buffer;
  /** Bytes after a 101's head: the first WebSocket frames. */
  rest: Buffer;
}

/** Decodes a chunked body; undefined while incomplete. */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf("\r\n", at);
    if (eol < 0) return undefined;
    const size = parseInt(data.subarray(at, eol).toString("latin1").split(";")[0]!.trim(), 16);
    if (!Number.isFinite(size)) throw new Error("malformed chunked body");
    if (size === 0) return Buffer.concat(parts);
    if (data.length < eol + 2 + size + 2) return undefined;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

export class ResponseParser {
  private data: Buffer = Buffer.alloc(0);
  private head: Omit<UpgradeResponse, "body" | "rest"> | undefined;
  private bodyStart = 0;

  /** Feeds received bytes (`ended`: the connection closed); returns the response once it is complete. */
  push(chunk: Buffer, ended = false): UpgradeResponse | undefined {
    this.data = this.data.length === 0 ? chunk : Buffer.concat([this.data, chunk]);
    if (!this.head) {
      const end = this.data.indexOf("\r\n\r\n");
      if (end < 0) {
        if (this.data.length > MAX_HEAD) throw new Error("the server's answer has an oversized head");
        if (ended) throw new Error(this.data.length === 0 ? "the server closed the connection without answering" : "the server's answer was cut off");
        return undefined;
      }
      const [statusLine, ...headerLines] = this.data.subarray(0, end).toString("latin1").split("\r\n");
      const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine ?? "");
      if (!m) throw new Error(`not an HTTP answer: ${JSON.stringify((statusLine ?? "").slice(0, 80))}`);
      const headers = new Map<string, string>();
      for (const line of headerLines) {
        const colon = line.indexOf(":");
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      this.head = { status: Number(m[1]), statusText: m[2]!, headers };
      this.bodyStart = end + 4;
      if (this.head.status === 101) return { ...this.head, body: Buffer.alloc(0), rest: this.data.subarray(this.bodyStart) };
    }
    const body = this.data.subarray(this.bodyStart);
    const { headers } = this.head;
    const length = headers.get("content-length");
    if ((headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) {
      const whole = dechunk(body);
      if (whole) return this.done(whole);
    } else if (length !== undefined) {
      const n = Number(length);
      if (body.length >= n || body.length >= MAX_BODY) return this.done(body.subarray(0, n));
    }
    if (ended || body.length >= MAX_BODY) return this.done(body);
    return undefined;
  }

  private done(body: Buffer): UpgradeResponse {
    return { ...this.head!, body: body.subarray(0, MAX_BODY), rest: Buffer.alloc(0) };
  }
}
