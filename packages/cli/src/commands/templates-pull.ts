import fs from "node:fs/promises";
import path from "node:path";
import { extractArchive } from "@outpost/provisioner/archive";
import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { parseSubArgs } from "../subcommands.js";
import { activeVersion, templateArg, versionArg } from "../template-args.js";

const PULL_HELP = `Usage: outpost templates pull NAME [--version VERSION] [-d DIR]

Downloads a version of a template (default: the active one) and writes its files into DIR
(default ./NAME), which must not exist or be empty.

Options:
  --version VERSION       the version to download
  -d, --directory DIR     where to write the files`;

export async function pull(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: PULL_HELP, options: { version: { type: "string" }, directory: { type: "string", short: "d" } }, positionals: ["NAME"] });
  if (a.help) return 0;
  const v = a.values as { version?: string; directory?: string };
  const name = templateArg(a.positionals[0]!);
  if (v.version !== undefined) versionArg(v.version);
  const dir = path.resolve(v.directory ?? name);
  const existing = await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? [] : Promise.reject(err)));
  if (existing.length > 0) throw new CliError(`${dir} already exists and is not empty`, ["choose another folder with -d DIR"]);
  const client = await authedClient(ctx);
  let versionName = v.version;
  if (versionName === undefined) {
    const t = await client.template(name);
    const active = await activeVersion(client, t);
    if (!active) throw new CliError(`template ${name} has no active version`, ["pick one with --version (see `outpost templates versions list " + name + "`)"]);
    versionName = active.name;
  }
  const version = await client.templateVersion(name, versionName);
  const bytes = await client.downloadFile(version.file_hash);
  const files = await extractArchive(bytes, dir);
  ctx.io.out(`Wrote version ${version.name} of template ${name} to ${path.relative(path.resolve("."), dir) || "."} (${files.length} ${files.length === 1 ? "file" : "files"}).`);
  return 0;
}
