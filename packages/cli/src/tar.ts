import fs from "node:fs/promises";
import path from "node:path";
import { readTar, safeRelativePath, TarError } from "@outpost/sdk/tar";

/** Writes the archive's files under `dest`; refuses entries that would land outside it. Returns the paths written. */
export async function extractTar(bytes: Uint8Array, dest: string): Promise<string[]> {
  const entries = readTar(bytes);
  for (const e of entries) if (!safeRelativePath(e.path)) throw new TarError(`unsafe path ${JSON.stringify(e.path)}`);
  const written: string[] = [];
  for (const e of entries) {
    const rel = safeRelativePath(e.path)!;
    const file = path.join(dest, ...rel.split("/"));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, e.data, { mode: e.mode & 0o111 ? 0o755 : 0o644 });
    written.push(rel);
  }
  return written;
}
