import path from "node:path";
import { OutpostError } from "@outpost/sdk/client-error";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import { versionNameSchema, type Template, type TemplateVersion } from "@outpost/sdk/templates";
import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { printJobLogs } from "../follow.js";
import { ago, json, parseFormat, table } from "../output.js";
import { describeConstraints } from "../parameters.js";
import { copyStarter, isStarter, STARTERS, type StarterName } from "../starters.js";
import { checkValue, dispatch, parseSubArgs, type CommandGroup } from "../subcommands.js";
import { parseTags } from "../tags.js";
import { formatBytes, packTemplateDir } from "../template-archive.js";
import { confirm } from "../workspace-helpers.js";
import { plan } from "./templates-plan.js";
import { pull } from "./templates-pull.js";
import { activeVersion, templateArg, versionArg } from "../template-args.js";

async function templateOrUndefined(client: FleetClient, name: string): Promise<Template | undefined> {
  try {
    return await client.template(name);
  } catch (err) {
    if (err instanceof OutpostError && err.code === "NOT_FOUND") return undefined;
    throw err;
  }
}

// --- init ----------------------------------------------------------------------------------------

const INIT_HELP = `Usage: outpost templates init [DIR] [--starter NAME]

Creates a template folder from a starter, ready to edit and push. DIR defaults to ./STARTER and
must not exist or be empty. In a terminal, the starter is asked for when not given.

Starters:
${STARTERS.map((s) => `  ${s.name.padEnd(18)} ${s.summary}`).join("\n")}

Options:
  --starter NAME          ${STARTERS.map((s) => s.name).join(", ")}`;

async function init(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: INIT_HELP, options: { starter: { type: "string" } }, optionalPositionals: ["DIR"] });
  if (a.help) return 0;
  let starter = (a.values as { starter?: string }).starter;
  const names = STARTERS.map((s) => s.name);
  if (starter !== undefined && !isStarter(starter)) throw new CliError(`invalid value for --starter: ${JSON.stringify(starter)}`, [`starters: ${names.join(", ")}`], 2);
  if (starter === undefined) {
    if (!ctx.io.interactive) throw new CliError("missing --starter", [`starters: ${names.join(", ")}`, "not running in a terminal, so nothing can be prompted for"], 2);
    ctx.io.err("Starters:");
    STARTERS.forEach((s, i) => ctx.io.err(`  ${i + 1}) ${s.name} - ${s.summary}`));
    for (let attempt = 0; starter === undefined; attempt++) {
      if (attempt === 3) throw new CliError("no starter chosen", [], 2);
      const answer = (await ctx.io.prompt("Starter", { default: "1" })).trim();
      const picked = /^\d+$/.test(answer) ? STARTERS[Number(answer) - 1]?.name : answer;
      if (picked && isStarter(picked)) starter = picked;
      else ctx.io.err(`  choose 1-${STARTERS.length} or a name: ${names.join(", ")}`);
    }
  }
  const dir = path.resolve(a.positionals[0] ?? starter);
  const files = await copyStarter(starter as StarterName, dir);
  const shown = path.relative(path.resolve("."), dir) || ".";
  ctx.io.out(`Created ${shown} from the ${starter} starter (${files.join(", ")}).`);
  ctx.io.err(`Next: edit ${path.join(shown, "template.ts")}, then \`outpost templates push NAME -d ${shown}\`.`);
  return 0;
}

// --- push ----------------------------------------------------------------------------------------

const PUSH_HELP = `Usage: outpost templates push NAME [-d DIR] [options]

Packs the template folder (every file except .git and node_modules folders; at most 10 MiB) and
uploads it as a new version of template NAME, then prints the import job's logs as it loads,
type-checks and validates the template. Exits 0 when the import succeeded, 1 with its error when
not. A template that does not exist yet is created (in a terminal, after asking).

Options:
  -d, --directory DIR     the template folder, holding template.ts (default: the current folder)
  --name VERSION          the version's name (default: chosen by the server)
  -m, --message TEXT      what changed in this version
  --activate=true|false   make the version active once imported (default true); new workspaces
                          use the active version
  --provisioner-tag KEY=VALUE
                          only provisioner daemons with this tag import and build the version
                          (repeat for more)
  -y, --yes               do not ask before creating a new template`;

/** `--activate` alone means true; parseArgs takes it as a string option, so give it a value. */
function normaliseActivate(argv: string[]): string[] {
  return argv.map((arg, i) => (arg === "--activate" && argv[i + 1] !== "true" && argv[i + 1] !== "false" ? "--activate=true" : arg));
}

async function push(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(
    { ...ctx, argv: normaliseActivate(ctx.argv) },
    {
      usage: PUSH_HELP,
      options: {
        directory: { type: "string", short: "d" },
        name: { type: "string" },
        message: { type: "string", short: "m" },
        activate: { type: "string" },
        "provisioner-tag": { type: "string", multiple: true },
        yes: { type: "boolean", short: "y" },
      },
      positionals: ["NAME"],
    },
  );
  if (a.help) return 0;
  const v = a.values as { directory?: string; name?: string; message?: string; activate?: string; "provisioner-tag"?: string[]; yes?: boolean };
  const name = templateArg(a.positionals[0]!);
  if (v.name !== undefined) checkValue("--name", versionNameSchema, v.name);
  if (v.message !== undefined && v.message.length > 1024) throw new CliError("invalid --message: must be at most 1024 characters", [], 2);
  if (v.activate !== undefined && v.activate !== "true" && v.activate !== "false") throw new CliError(`invalid value for --activate: ${JSON.stringify(v.activate)}`, ["use --activate=true or --activate=false"], 2);
  const activate = v.activate !== "false";
  const provisionerTags = v["provisioner-tag"] ? parseTags(v["provisioner-tag"], "--provisioner-tag") : undefined;
  const dir = path.resolve(v.directory ?? ".");
  // Everything local is checked before the server is asked anything.
  const packed = await packTemplateDir(dir);
  for (const s of packed.skipped) ctx.io.err(`warning: left out ${s} (not a regular file)`);
  const client = await authedClient(ctx);
  const existing = await templateOrUndefined(client, name);
  if (!existing) {
    if (ctx.io.interactive && !v.yes) {
      if (!(await confirm(ctx, `Template ${name} does not exist. Create it?`, { defaultYes: true, what: "create a template" }))) {
        ctx.io.err("Not pushed.");
        return 1;
      }
    }
    ctx.io.err(`creating template ${name}`);
  }
  const upload = await client.uploadFile(packed.bytes);
  ctx.io.err(`Uploaded ${packed.files.length} ${packed.files.length === 1 ? "file" : "files"} (${formatBytes(packed.bytes.length)}) from ${dir}.`);
  const version = await client.createTemplateVersion(name, { file_hash: upload.hash, name: v.name, message: v.message, activate, ...(provisionerTags ? { provisioner_tags: provisionerTags } : {}) });
  ctx.io.err(`Importing version ${version.name} of template ${name}:`);
  const job = await printJobLogs(ctx, (after, wait) => client.templateVersionLogs(version.id, after, wait), { follow: true });
  if (job.status === "failed") throw new CliError(`version ${version.name} of template ${name} failed to import`, (job.error ?? "no error message").split("\n"));
  if (job.status === "canceled") throw new CliError(`the import of version ${version.name} of template ${name} was canceled`);
  const imported = await client.templateVersion(name, version.name);
  if (imported.active) ctx.io.out(`Template ${name}: version ${imported.name} imported and active.`);
  else {
    ctx.io.out(`Template ${name}: version ${imported.name} imported, not active.`);
    ctx.io.err(`Make it active with \`outpost templates versions activate ${name} ${imported.name}\`.`);
  }
  return 0;
}

// --- list, show ----------------------------------------------------------------------------------

const LIST_HELP = `Usage: outpost templates list [-o json]

Lists the templates you can use, with their active version and workspace count.

Options:
  -o, --output FORMAT     table (default) or json`;

async function list(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: LIST_HELP, options: { output: { type: "string", short: "o" } } });
  if (a.help) return 0;
  const format = parseFormat((a.values as { output?: string }).output);
  const client = await authedClient(ctx);
  const templates = await client.listTemplates();
  if (format === "json") {
    ctx.io.out(json(templates));
    return 0;
  }
  if (templates.length === 0) {
    ctx.io.err("no templates; create one with `outpost templates init` and `outpost templates push NAME`");
    return 0;
  }
  const active = await Promise.all(templates.map((t) => activeVersion(client, t).catch(() => undefined)));
  ctx.io.out(
    table(
      ["name", "active version", "workspaces", "updated", "description"],
      templates.map((t, i) => [t.name, active[i]?.name ?? "-", String(t.workspace_count), ago(t.updated_at), t.description]),
    ),
  );
  return 0;
}

const SHOW_HELP = `Usage: outpost templates show NAME [-o json]

Shows a template: its active version, the parameters a workspace is created with, the resources a
started workspace has, and how many workspaces use it.

Options:
  -o, --output FORMAT     text (default) or json ({ template, active_version })`;

function parameterRows(version: TemplateVersion): string[][] {
  return version.parameters.map(({ name, spec }) => [
    name,
    describeConstraints(spec),
    spec.default === undefined || spec.required ? "(required)" : JSON.stringify(spec.default),
    [spec.mutable ? "mutable" : "", spec.ephemeral ? "ephemeral" : ""].filter(Boolean).join(",") || "-",
    spec.description ?? "",
  ]);
}

async function show(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: SHOW_HELP, options: { output: { type: "string", short: "o" } }, positionals: ["NAME"] });
  if (a.help) return 0;
  const v = a.values as { output?: string };
  const format = parseFormat(v.output === "text" ? undefined : v.output);
  const name = templateArg(a.positionals[0]!);
  const client = await authedClient(ctx);
  const t = await client.template(name);
  const version = await activeVersion(client, t);
  if (format === "json") {
    ctx.io.out(json({ template: t, active_version: version ?? null }));
    return 0;
  }
  const rows: [string, string][] = [
    ["template", t.name],
    ...(t.display_name ? ([["display name", t.display_name]] as [string, string][]) : []),
    ...(t.description ? ([["description", t.description]] as [string, string][]) : []),
    ["id", t.id],
    ["active version", version ? `${version.name}${version.message ? ` (${version.message})` : ""}, pushed ${ago(version.created_at)}${version.created_by ? ` by ${version.created_by.username}` : ""}` : "none"],
    ["workspaces", String(t.workspace_count)],
    ["created", `${t.created_at}${t.created_by ? ` by ${t.created_by.username}` : ""}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  const lines = rows.map(([k, val]) => `${(k + ":").padEnd(width)}  ${val}`);
  if (version) {
    lines.push("", "Parameters:");
    if (version.parameters.length === 0) lines.push("  none");
    else lines.push(...table(["name", "type", "default", "flags", "description"], parameterRows(version)).split("\n").map((l) => `  ${l}`));
    lines.push("", "Resources (started workspace):");
    if (version.resources.length === 0) lines.push("  none");
    else lines.push(...table(["address", "agent", "daily cost"], version.resources.map((r) => [r.address, r.agent ?? "-", String(r.daily_cost)])).split("\n").map((l) => `  ${l}`));
  }
  ctx.io.out(lines.join("\n"));
  return 0;
}

// --- versions ------------------------------------------------------------------------------------

const VERSIONS_LIST_HELP = `Usage: outpost templates versions list NAME [--include-archived] [-o json]

Lists a template's versions, newest first, with their import status.

Options:
  --include-archived      also list archived versions
  -o, --output FORMAT     table (default) or json`;

async function versionsList(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: VERSIONS_LIST_HELP, options: { "include-archived": { type: "boolean" }, output: { type: "string", short: "o" } }, positionals: ["NAME"] });
  if (a.help) return 0;
  const v = a.values as { "include-archived"?: boolean; output?: string };
  const format = parseFormat(v.output);
  const name = templateArg(a.positionals[0]!);
  const client = await authedClient(ctx);
  const versions = [...(await client.templateVersions(name, v["include-archived"] === true))].sort((x, y) => Date.parse(y.created_at) - Date.parse(x.created_at));
  if (format === "json") {
    ctx.io.out(json(versions));
    return 0;
  }
  if (versions.length === 0) {
    ctx.io.err(`template ${name} has no versions${v["include-archived"] ? "" : " (not counting archived ones)"}`);
    return 0;
  }
  ctx.io.out(
    table(
      ["name", "import", "active", "archived", "created by", "created", "message"],
      versions.map((x) => [x.name, x.job.status, x.active ? "active" : "", x.archived ? "archived" : "", x.created_by?.username ?? "-", ago(x.created_at), x.message.split("\n")[0] ?? ""]),
    ),
  );
  return 0;
}

const ACTIVATE_HELP = `Usage: outpost templates versions activate NAME VERSION

Makes VERSION the template's active version: new workspaces use it, and workspaces on other
versions show as outdated (\`outpost update\` moves them). Only a successfully imported, unarchived
version can be active.`;

async function versionsActivate(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: ACTIVATE_HELP, options: {}, positionals: ["NAME", "VERSION"] });
  if (a.help) return 0;
  const name = templateArg(a.positionals[0]!);
  const version = versionArg(a.positionals[1]!);
  const client = await authedClient(ctx);
  await client.setActiveVersion(name, version);
  ctx.io.out(`Template ${name}: version ${version} is now active.`);
  return 0;
}

function archiveCommand(archived: boolean): (ctx: CliContext) => Promise<number> {
  const help = archived
    ? `Usage: outpost templates versions archive NAME VERSION\n\nArchives a version: it is hidden from version lists and cannot be made active or used for new\nworkspaces. The active version cannot be archived.`
    : `Usage: outpost templates versions unarchive NAME VERSION\n\nRestores an archived version.`;
  return async (ctx) => {
    const a = parseSubArgs(ctx, { usage: help, options: {}, positionals: ["NAME", "VERSION"] });
    if (a.help) return 0;
    const name = templateArg(a.positionals[0]!);
    const version = versionArg(a.positionals[1]!);
    const client = await authedClient(ctx);
    const updated = await client.archiveVersion(name, version, archived);
    ctx.io.out(`Template ${name}: version ${updated.name} is ${updated.archived ? "archived" : "no longer archived"}.`);
    return 0;
  };
}

export const VERSIONS: CommandGroup = {
  name: "templates versions",
  description: "Manage the versions of a template. Every push makes a new, immutable version; one is active.",
  subcommands: {
    list: { summary: "List a template's versions", run: versionsList },
    activate: { summary: "Make a version the active one", run: versionsActivate },
    archive: { summary: "Archive a version", run: archiveCommand(true) },
    unarchive: { summary: "Restore an archived version", run: archiveCommand(false) },
  },
};

// --- delete, pull --------------------------------------------------------------------------------

const DELETE_HELP = `Usage: outpost templates delete NAME [-y]

Deletes a template and its versions. A template that still has workspaces cannot be deleted:
delete them first. Asks for confirmation in a terminal; without one, -y is required.

Options:
  -y, --yes               do not ask for confirmation`;

async function remove(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: DELETE_HELP, options: { yes: { type: "boolean", short: "y" } }, positionals: ["NAME"] });
  if (a.help) return 0;
  const v = a.values as { yes?: boolean };
  const name = templateArg(a.positionals[0]!);
  if (!v.yes && !ctx.io.interactive) throw new CliError(`refusing to delete template ${name} without confirmation`, ["not running in a terminal: pass -y (--yes) to confirm"], 2);
  const client = await authedClient(ctx);
  const t = await client.template(name);
  if (!(await confirm(ctx, `Delete template ${t.name} and all its versions?`, { yes: v.yes, what: "delete a template" }))) {
    ctx.io.err("Not deleted.");
    return 1;
  }
  await client.deleteTemplate(t.name);
  ctx.io.out(`Deleted template ${t.name}.`);
  return 0;
}

export const TEMPLATES: CommandGroup = {
  name: "templates",
  description: "Manage templates: workspaces described as TypeScript code (see docs/templates.md). Pushing takes the owner or template-admin role.",
  subcommands: {
    init: { summary: "Create a template folder from a starter", run: init },
    push: { summary: "Upload a folder as a new version and import it", run: push },
    list: { summary: "List templates", run: list },
    show: { summary: "Show a template: active version, parameters, resources", run: show },
    versions: { summary: "List, activate, archive and unarchive versions", run: (ctx) => dispatch(ctx, VERSIONS) },
    delete: { summary: "Delete a template", run: remove },
    pull: { summary: "Download a version's files", run: pull },
    plan: { summary: "Show what pushing a folder would change in each workspace (dry run)", run: plan },
  },
};

export async function run(ctx: CliContext): Promise<number> {
  return dispatch(ctx, TEMPLATES);
}
