// Reading the client's identification line ("SSH-2.0-OpenSSH_9.2p1 ...") before ssh2 sees the stream,
// to pick the cipher offer. In SSH the client's preference order decides the cipher, and OpenSSH lists
// chacha20-poly1305 and the CTR modes before AES-GCM: only a GCM-only offer makes it pick
// aes128-gcm@openssh.com (DESIGN.md: +14% throughput, -38% client CPU). Other clients (Paramiko has no
// GCM) get the full list. OpenSSH sends its identification without waiting for ours; a client that
// waits for the server to speak first gets the full list after `timeoutMs`.
import type { Duplex } from "node:stream";

/** RFC 4253 4.2: at most 255 bytes including CR LF. */
const MAX_IDENT = 255;

/**
 * Resolves with the first line the client sent (without CR LF), or undefined on timeout, end or a
 * line that is too long; every byte read is pushed back onto the stream.
 */
export function readClientIdent(stream: Duplex, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (ident: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      stream.off("error", onEnd);
      stream.off("close", onEnd);
      if (chunks.length > 0) stream.unshift(Buffer.concat(chunks));
      resolve(ident);
    };
    const onEnd = () => finish(undefined);
    const onReadable = () => {
      let chunk: Buffer | null;
      while (!done && (chunk = stream.read() as Buffer | null) !== null) {
        const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        chunks.push(buf);
        size += buf.length;
        const all = chunks.length === 1 ? buf : Buffer.concat(chunks);
        const eol = all.indexOf(0x0a);
        if (eol !== -1) return finish(all.subarray(0, eol).toString("latin1").replace(/\r$/, ""));
        if (size >= MAX_IDENT) return finish(undefined);
      }
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    stream.on("readable", onReadable);
    stream.once("end", onEnd);
    stream.once("error", onEnd);
    stream.once("close", onEnd);
    onReadable();
  });
}

export function isOpenSshClient(ident: string | undefined): boolean {
  return ident !== undefined && /^SSH-2\.0-OpenSSH_/.test(ident);
}
