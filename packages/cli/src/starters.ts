// Starter templates for `outpost templates init`: the folders under examples/templates.
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "./context.js";
import { IGNORED_NAMES } from "./template-archive.js";

export const STARTERS = [
  { name: "docker", summary: "a container from the outpost/base image with a persistent home volume" },
  { name: "docker-dockerfile", summary: "a container from an image built from the template's Dockerfile" },
  { name: "local", summary: "a directory and an agent process on the provisioner's host: no Docker needed" },
] as const;
export type StarterName = (typeof STARTERS)[number]["name"];

export function isStarter(name: string): name is StarterName {
  return STARTERS.some((s) => s.name === name);
}

/**
 * The examples/templates folder of this installation: found by walking up from this module (the
 * bundle lives in packages/cli/dist, the sources in packages/cli/src).
 */
export function startersDir(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "examples", "templates");
    if (existsSync(path.join(candidate, "docker", "template.ts"))) return candidate;
    if (path.dirname(dir) === dir) throw new CliError("cannot find the starter templates (examples/templates) of this installation");
  }
}

async function copyDir(src: string, dest: string, rel: string, out: string[]): Promise<void> {
  await fs.mkdir(path.join(dest, rel), { recursive: true });
  for (const entry of (await fs.readdir(path.join(src, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (IGNORED_NAMES.has(entry.name)) continue;
    const childRel = rel ? path.join(rel, entry.name) : entry.name;
    if (entry.isDirectory()) await copyDir(src, dest, childRel, out);
    else if (entry.isFile()) {
      await fs.copyFile(path.join(src, childRel), path.join(dest, childRel));
      out.push(childRel);
    }
  }
}

/** Copies a starter into `dest`, which must not exist or be empty. Returns the files written. */
export async function copyStarter(name: StarterName, dest: string, root = startersDir()): Promise<string[]> {
  const existing = await fs.readdir(dest).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    if (err.code === "ENOTDIR") throw new CliError(`${dest} exists and is not a folder`);
    throw err;
  });
  if (existing.length > 0) throw new CliError(`${dest} already exists and is not empty`, ["choose another folder: outpost templates init DIR"]);
  const written: string[] = [];
  await copyDir(path.join(root, name), dest, "", written);
  return written;
}
