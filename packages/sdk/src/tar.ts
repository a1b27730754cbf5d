// A small ustar (POSIX.1-1988 + pax path records) writer and reader for template archives: regular
// files only, deterministic output (sorted, fixed owner and time), so pushing the same folder twice
// uploads the same bytes.

const BLOCK = 512;

export interface TarEntry {
  /** Forward-slash path relative to the archive root, e.g. `scripts/setup.sh`. */
  path: string;
  /** File mode bits (0o644, 0o755). */
  mode: number;
  data: Uint8Array;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function writeString(header: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = enc.encode(value);
  header.set(bytes.subarray(0, length), offset);
}

function writeOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  // length-1 octal digits, zero padded, then NUL.
  writeString(header, offset, length - 1, value.toString(8).padStart(length - 1, "0"));
}

/** Splits a path into ustar `prefix` and `name`, or undefined when it does not fit (a pax record is then used). */
function splitUstarPath(p: string): { prefix: string; name: string } | undefined {
  if (enc.encode(p).length <= 100) return { prefix: "", name: p };
  for (let i = p.indexOf("/"); i >= 0; i = p.indexOf("/", i + 1)) {
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (enc.encode(prefix).length <= 155 && enc.encode(name).length <= 100 && name.length > 0) return { prefix, name };
  }
  return undefined;
}

function header(name: string, prefix: string, mode: number, size: number, type: string): Uint8Array {
  const h = new Uint8Array(BLOCK);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, mode & 0o7777);
  writeOctal(h, 108, 8, 0); // uid
  writeOctal(h, 116, 8, 0); // gid
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, 0); // mtime: fixed, so identical folders give identical archives
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  writeString(h, 156, 1, type);
  writeString(h, 257, 6, "ustar\0");
  writeString(h, 263, 2, "00");
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** One pax record: `LEN key=value\n`, where LEN counts the whole record including its own digits. */
function paxRecord(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`;
  const bodyLen = enc.encode(body).length;
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return enc.encode(`${len}${body}`);
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** Bytes an entry takes in the archive (headers and padding included). */
export function entrySize(p: string, size: number): number {
  const pax = splitUstarPath(p) ? 0 : BLOCK + padded(paxRecord("path", p).length);
  return pax + BLOCK + padded(size);
}

/** Writes a tar archive of regular files. */
export function packTar(entries: TarEntry[]): Uint8Array {
  const total = entries.reduce((n, e) => n + entrySize(e.path, e.data.length), 0) + 2 * BLOCK;
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    const split = splitUstarPath(e.path);
    if (!split) {
      const record = paxRecord("path", e.path);
      out.set(header("PaxHeader", "", 0o644, record.length, "x"), at);
      at += BLOCK;
      out.set(record, at);
      at += padded(record.length);
    }
    const { prefix, name } = split ?? { prefix: "", name: e.path.slice(-100) };
    out.set(header(name, prefix, e.mode, e.data.length, "0"), at);
    at += BLOCK;
    out.set(e.data, at);
    at += padded(e.data.length);
  }
  return out; // the two zero blocks at the end are already zero
}

function readString(block: Uint8Array, offset: number, length: number): string {
  const slice = block.subarray(offset, offset + length);
  const nul = slice.indexOf(0);
  return dec.decode(nul >= 0 ? slice.subarray(0, nul) : slice);
}

function readOctal(block: Uint8Array, offset: number, length: number): number {
  const text = readString(block, offset, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarError(`malformed number field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

export class TarError extends Error {
  constructor(message: string) {
    super(`not a valid template archive: ${message}`);
  }
}

function parsePax(data: Uint8Array): Record<string, string> {
  // Records are `LEN key=value\n` with LEN in bytes: walk the bytes, decode each record on its own.
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const len = Number(dec.decode(data.subarray(at, space)));
    if (!Number.isInteger(len) || len <= space - at || at + len > data.length) throw new TarError("malformed pax header");
    const record = dec.decode(data.subarray(space + 1, at + len)).replace(/\n$/, "");
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}

/** Reads the regular files of a tar archive (directories are implied; links and devices are skipped). */
export function readTar(bytes: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let at = 0;
  let nextPath: string | undefined;
  while (at + BLOCK <= bytes.length) {
    const h = bytes.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== readOctal(h, 148, 8)) throw new TarError(`bad header checksum at offset ${at}`);
    const size = readOctal(h, 124, 12);
    const type = String.fromCharCode(h[156]!) || "0";
    const dataStart = at + BLOCK;
    if (dataStart + size > bytes.length) throw new TarError("truncated archive");
    const data = bytes.subarray(dataStart, dataStart + size);
    at = dataStart + padded(size);
    if (type === "x") {
      nextPath = parsePax(data).path ?? nextPath;
      continue;
    }
    if (type === "L") {
      nextPath = readString(data, 0, data.length);
      continue;
    }
    if (type === "g") continue;
    const prefix = readString(h, 345, 155);
    const name = readString(h, 0, 100);
    const p = nextPath ?? (prefix ? `${prefix}/${name}` : name);
    nextPath = undefined;
    if (type === "0" || type === "\0" || type === "7") entries.push({ path: p, mode: readOctal(h, 100, 8), data: new Uint8Array(data) });
  }
  return entries;
}

/** A safe relative path inside the destination, or undefined for absolute paths and `..` escapes. */
export function safeRelativePath(p: string): string | undefined {
  const parts = p.replaceAll("\\", "/").split("/").filter((s) => s !== "" && s !== ".");
  if (p.startsWith("/") || parts.length === 0 || parts.some((s) => s === "..")) return undefined;
  return parts.join("/");
}
