import { CreateProvisionerKeyRequestSchema } from "@outpost/sdk/provisioner";
import { authedClient } from "../client.js";
import type { CliContext } from "../context.js";
import { ago, parseFormat, printList } from "../output.js";
import { checkValue, dispatch, parseSubArgs, type CommandGroup } from "../subcommands.js";
import { formatTags, parseTags } from "../tags.js";

const nameSchema = CreateProvisionerKeyRequestSchema.shape.name;

const KEYS_CREATE_HELP = `Usage: outpost provisioner keys create NAME [--tag KEY=VALUE ...]

Creates a provisioner key and prints only the key on stdout. An external daemon authenticates with
it (\`outpost provisionerd start --key KEY\`) and takes the jobs whose tags are all among the key's
tags. The key is shown once; the server stores only a hash. Takes the owner role.

Options:
  --tag KEY=VALUE         a tag of every daemon using this key; repeat for more`;

async function keysCreate(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: KEYS_CREATE_HELP, options: { tag: { type: "string", multiple: true } }, positionals: ["NAME"] });
  if (a.help) return 0;
  const name = a.positionals[0]!;
  checkValue("key name", nameSchema, name);
  const tags = parseTags((a.values as { tag?: string[] }).tag);
  const client = await authedClient(ctx);
  const { key, provisioner_key } = await client.createProvisionerKey(name, tags);
  ctx.io.out(key);
  ctx.io.err(`Created provisioner key "${provisioner_key.name}" (tags: ${formatTags(provisioner_key.tags)}). The key above is shown only once.`);
  ctx.io.err("Run a daemon with it: outpost provisionerd start --key KEY --url URL");
  return 0;
}

const KEYS_LIST_HELP = `Usage: outpost provisioner keys list [-o json]

Lists provisioner keys (never the keys themselves).

Options:
  -o, --output FORMAT     table (default) or json`;

async function keysList(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: KEYS_LIST_HELP, options: { output: { type: "string", short: "o" } } });
  if (a.help) return 0;
  const format = parseFormat((a.values as { output?: string }).output);
  const client = await authedClient(ctx);
  const keys = await client.listProvisionerKeys();
  printList(ctx.io, format, keys, {
    empty: "no provisioner keys; create one with `outpost provisioner keys create NAME`",
    headers: ["name", "tags", "created"],
    row: (k) => [k.name, formatTags(k.tags), ago(k.created_at)],
  });
  return 0;
}

const KEYS_DELETE_HELP = `Usage: outpost provisioner keys delete NAME

Deletes a provisioner key: daemons using it can no longer take jobs.`;

async function keysDelete(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: KEYS_DELETE_HELP, options: {}, positionals: ["NAME"] });
  if (a.help) return 0;
  const name = a.positionals[0]!;
  checkValue("key name", nameSchema, name);
  const client = await authedClient(ctx);
  await client.deleteProvisionerKey(name);
  ctx.io.out(`Deleted provisioner key ${name}.`);
  return 0;
}

export const KEYS: CommandGroup = {
  name: "provisioner keys",
  description: "Manage provisioner keys: what external provisioner daemons authenticate with.",
  subcommands: {
    create: { summary: "Create a key and print it", run: keysCreate },
    list: { summary: "List keys", run: keysList },
    delete: { summary: "Delete a key", run: keysDelete },
  },
};

const LIST_HELP = `Usage: outpost provisioner list [-o json]

Lists the provisioner daemons known to the server: built-in ones and external ones started with
\`outpost provisionerd start\`, with their tags and current job.

Options:
  -o, --output FORMAT     table (default) or json`;

async function list(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: LIST_HELP, options: { output: { type: "string", short: "o" } } });
  if (a.help) return 0;
  const format = parseFormat((a.values as { output?: string }).output);
  const client = await authedClient(ctx);
  const daemons = await client.listProvisionerDaemons();
  printList(ctx.io, format, daemons, {
    empty: "no provisioner daemons",
    headers: ["name", "key", "tags", "version", "last seen", "current job"],
    row: (d) => [d.name, d.key_name ?? "(built-in)", formatTags(d.tags), d.version || "-", ago(d.last_seen_at), d.current_job_id ?? "-"],
  });
  return 0;
}

export const PROVISIONER: CommandGroup = {
  name: "provisioner",
  description: "Provisioner daemons run template code and build workspaces. Takes the owner role.",
  subcommands: {
    keys: { summary: "Create, list and delete provisioner keys", run: (ctx) => dispatch(ctx, KEYS) },
    list: { summary: "List provisioner daemons", run: list },
  },
};

export async function run(ctx: CliContext): Promise<number> {
  return dispatch(ctx, PROVISIONER);
}
