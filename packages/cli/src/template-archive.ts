import fs from "node:fs/promises";
import path from "node:path";
import { MAX_TEMPLATE_ARCHIVE_BYTES } from "@outpost/sdk/templates";
import { CliError } from "./context.js";
import { entrySize, packTar, type TarEntry } from "@outpost/sdk/tar";

/** Folder names never packed, at any depth. */
export const IGNORED_NAMES = new Set([".git", "node_modules"]);

export interface PackedTemplate {
  bytes: Uint8Array;
  /** Paths packed, relative to the folder. */
  files: string[];
  /** Symlinks and special files left out, for a warning. */
  skipped: string[];
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

interface Found {
  rel: string;
  abs: string;
  size: number;
  mode: number;
}

async function walk(root: string, rel: string, found: Found[], skipped: string[]): Promise<void> {
  const dir = path.join(root, rel);
  const names = (await fs.readdir(dir)).sort();
  for (const name of names) {
    if (IGNORED_NAMES.has(name)) continue;
    const childRel = rel ? `${rel}/${name}` : name;
    const abs = path.join(dir, name);
    const st = await fs.lstat(abs);
    if (st.isDirectory()) await walk(root, childRel, found, skipped);
    else if (st.isFile()) found.push({ rel: childRel, abs, size: st.size, mode: st.mode & 0o111 ? 0o755 : 0o644 });
    else skipped.push(childRel);
  }
}

/**
 * Packs a template folder as a tar archive: every regular file except `.git` and `node_modules`
 * folders. Fails before reading file contents when the folder has no template.ts or would exceed
 * the server's archive limit.
 */
export async function packTemplateDir(dir: string, limit = MAX_TEMPLATE_ARCHIVE_BYTES): Promise<PackedTemplate> {
  const st = await fs.stat(dir).catch(() => undefined);
  if (!st) throw new CliError(`template folder ${dir} does not exist`, ["pass the folder holding template.ts with -d DIR"]);
  if (!st.isDirectory()) throw new CliError(`${dir} is not a folder`, ["pass the folder holding template.ts with -d DIR"]);
  const found: Found[] = [];
  const skipped: string[] = [];
  await walk(dir, "", found, skipped);
  if (!found.some((f) => f.rel === "template.ts")) {
    throw new CliError(`no template.ts in ${dir}`, ["a template folder holds template.ts (export default defineTemplate({...})) and the files it uses", "run `outpost templates init` for a starter"]);
  }
  const total = found.reduce((n, f) => n + entrySize(f.rel, f.size), 1024);
  if (total > limit) {
    const largest = [...found].sort((a, b) => b.size - a.size).slice(0, 3);
    throw new CliError(`the template archive would be ${formatBytes(total)}, over the ${formatBytes(limit)} limit`, [
      "largest files:",
      ...largest.map((f) => `  ${f.rel} (${formatBytes(f.size)})`),
      "keep build inputs small; .git and node_modules folders are already left out",
    ]);
  }
  const entries: TarEntry[] = [];
  for (const f of found) entries.push({ path: f.rel, mode: f.mode, data: new Uint8Array(await fs.readFile(f.abs)) });
  const bytes = packTar(entries);
  // Files can grow between stat and read; the limit is checked again on what was actually packed.
  if (bytes.length > limit) throw new CliError(`the template archive is ${formatBytes(bytes.length)}, over the ${formatBytes(limit)} limit`);
  return { bytes, files: found.map((f) => f.rel), skipped };
}
