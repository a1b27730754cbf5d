// Small helpers around dockerode shared by the docker driver's files.
import path from "node:path";
import { errorMessage } from "./common.js";

export interface DockerError extends Error {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
}

export const statusOf = (err: unknown) => (err as DockerError)?.statusCode;

/** The engine's own message ("No such container: x"), not dockerode's "(HTTP code 404) ..." wrapper. */
export function dockerMessage(err: unknown): string {
  const e = err as DockerError;
  return e?.json?.message ?? errorMessage(err);
}

export async function ignoreStatus<T>(p: Promise<T>, ...codes: number[]): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (codes.includes(statusOf(err) ?? 0)) return undefined;
    throw err;
  }
}


/** `context` inside `base` (template paths must not climb out of the template folder). */
export function inside(base: string, rel: string, what: string): string {
  const abs = path.resolve(base, rel);
  const r = path.relative(base, abs);
  if (r.startsWith("..") || path.isAbsolute(r)) throw new Error(`${what} ${JSON.stringify(rel)} is outside ${base}`);
  return abs;
}

/** Container logs without a TTY come in Docker's 8-byte-header frames. */
export function stripMux(buf: Buffer): string {
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 8 <= buf.length && (buf[off] === 1 || buf[off] === 2) && buf[off + 1] === 0) {
    const len = buf.readUInt32BE(off + 4);
    parts.push(buf.subarray(off + 8, off + 8 + len));
    off += 8 + len;
  }
  return off === 0 ? buf.toString("utf8") : Buffer.concat(parts).toString("utf8");
}
