import path from "node:path";
import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { printJobLogs } from "../follow.js";
import { json, parseFormat } from "../output.js";
import { parseSubArgs } from "../subcommands.js";
import { templateArg } from "../template-args.js";
import { formatBytes, packTemplateDir } from "../template-archive.js";

const PLAN_HELP = `Usage: outpost templates plan NAME [-d DIR] [-o json]

Shows, for every existing workspace of template NAME, what pushing the folder DIR would change when
that workspace is next built: resources added (+), removed (-), replaced (-/+, with the fields that
changed) or changed in place (~). A provisioner evaluates the folder with each workspace's parameters
and state; nothing is pushed or applied. Takes the owner or template-admin role.

Options:
  -d, --directory DIR     the template folder (default: the current directory)
  -o, --output FORMAT     table (default) or json`;

export async function plan(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: PLAN_HELP, options: { directory: { type: "string", short: "d" }, output: { type: "string", short: "o" } }, positionals: ["NAME"] });
  if (a.help) return 0;
  const v = a.values as { directory?: string; output?: string };
  const format = parseFormat(v.output);
  const name = templateArg(a.positionals[0]!);
  const dir = path.resolve(v.directory ?? ".");
  const packed = await packTemplateDir(dir);
  const client = await authedClient(ctx);
  const upload = await client.uploadFile(packed.bytes);
  ctx.io.err(`Uploaded ${packed.files.length} ${packed.files.length === 1 ? "file" : "files"} (${formatBytes(packed.bytes.length)}); planning against the workspaces of ${name}:`);
  const queued = await client.createTemplatePlan(name, upload.hash);
  const job = await printJobLogs({ ...ctx, io: { ...ctx.io, out: ctx.io.err } }, (after, wait) => client.templatePlanLogs(queued.id, after, wait), { follow: true });
  if (job.status !== "succeeded") throw new CliError(`the plan ${job.status}`, (job.error ?? "no error message").split("\n"));
  const result = await client.templatePlan(name, queued.id);
  if (format === "json") {
    ctx.io.out(json(result.workspaces));
    return 0;
  }
  if (result.workspaces.length === 0) {
    ctx.io.out(`Template ${name} has no workspaces: a push changes nothing yet.`);
    return 0;
  }
  for (const w of result.workspaces) {
    const head = `${w.owner}/${w.workspace_name}`;
    if (w.error) ctx.io.out(`${head}: cannot be planned: ${w.error}`);
    else if (w.lines.length === 0) ctx.io.out(`${head}: no changes`);
    else ctx.io.out([`${head}:`, ...w.lines.map((l) => `  ${l}`)].join("\n"));
  }
  const changing = result.workspaces.filter((w) => w.lines.length > 0).length;
  ctx.io.out(`\n${changing} of ${result.workspaces.length} workspace(s) would change.`);
  return result.workspaces.some((w) => w.error) ? 1 : 0;
}
