import { randomBytes } from "node:crypto";
import { tokenNameSchema } from "@outpost/sdk/api-keys";
import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { parseDuration, until } from "../duration.js";
import { ago, parseFormat, printList } from "../output.js";
import { checkValue, dispatch, parseSubArgs, type CommandGroup } from "../subcommands.js";

/** A default token name: `token-YYYYMMDD-xxxxx`, unique enough that two scripts rarely collide. */
function defaultName(now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replaceAll("-", "");
  const suffix = [...randomBytes(5)].map((b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36]).join("");
  return `token-${day}-${suffix}`;
}

const CREATE_HELP = `Usage: outpost tokens create [--name NAME] [--lifetime DURATION]

Creates an API token for you and prints only the key on stdout, so a script can capture it:

  export OUTPOST_SESSION_TOKEN=$(outpost tokens create --name ci --lifetime 7d)

The key is shown once; the server stores only a hash of it.

Options:
  --name NAME             lowercase letters, digits and single dashes (default: token-DATE-RANDOM)
  --lifetime DURATION     how long the token is valid: 30m, 24h, 7d, 1h30m (at least 1m; default and
                          maximum are set by the deployment, 30 days and 1 year unless changed)`;

async function create(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: CREATE_HELP, options: { name: { type: "string" }, lifetime: { type: "string" } } });
  if (a.help) return 0;
  const v = a.values as { name?: string; lifetime?: string };
  const name = v.name ?? defaultName();
  checkValue("--name", tokenNameSchema, name);
  let lifetimeSeconds: number | undefined;
  if (v.lifetime !== undefined) {
    const ms = parseDuration(v.lifetime);
    if (ms === undefined) throw new CliError(`invalid value for --lifetime: ${JSON.stringify(v.lifetime)}`, ["use a duration such as 30m, 24h, 7d or 1h30m"], 2);
    if (ms < 60_000) throw new CliError(`invalid value for --lifetime: ${JSON.stringify(v.lifetime)}`, ["must be at least 1m"], 2);
    lifetimeSeconds = Math.round(ms / 1000);
  }
  const client = await authedClient(ctx);
  const { key, token } = await client.createToken("me", { name, lifetime_seconds: lifetimeSeconds });
  // stdout carries the key alone; everything for humans goes to stderr.
  ctx.io.out(key);
  ctx.io.err(`Created token "${token.name}" (id ${token.id}), expires ${token.expires_at} (${until(token.expires_at)}).`);
  ctx.io.err("The key above is shown only once. Use it as OUTPOST_SESSION_TOKEN or with `outpost login URL --token KEY`.");
  return 0;
}

const LIST_HELP = `Usage: outpost tokens list [-o json]

Lists your API tokens (never their keys). Login sessions are not listed.

Options:
  -o, --output FORMAT     table (default) or json`;

async function list(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: LIST_HELP, options: { output: { type: "string", short: "o" } } });
  if (a.help) return 0;
  const format = parseFormat((a.values as { output?: string }).output);
  const client = await authedClient(ctx);
  const tokens = await client.listTokens("me");
  printList(ctx.io, format, tokens, {
    empty: "no tokens; create one with `outpost tokens create`",
    headers: ["id", "name", "created", "expires", "last used"],
    row: (t) => [t.id, t.name, ago(t.created_at), until(t.expires_at), ago(t.last_used_at)],
  });
  return 0;
}

const DELETE_HELP = `Usage: outpost tokens delete NAME_OR_ID

Deletes one of your API tokens, by name or id. It stops working at once.`;

async function remove(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: DELETE_HELP, options: {}, positionals: ["NAME_OR_ID"] });
  if (a.help) return 0;
  const ref = a.positionals[0]!;
  if (ref.length === 0 || ref.length > 64) throw new CliError(`invalid token name or id: ${JSON.stringify(ref)}`, [], 2);
  const client = await authedClient(ctx);
  await client.deleteToken("me", ref);
  ctx.io.out(`Deleted token ${ref}.`);
  return 0;
}

export const TOKENS: CommandGroup = {
  name: "tokens",
  description: "Manage your API tokens: long-lived keys for scripts and CI (OUTPOST_SESSION_TOKEN).",
  subcommands: {
    create: { summary: "Create a token and print its key", run: create },
    list: { summary: "List your tokens", run: list },
    delete: { summary: "Delete a token by name or id", run: remove },
  },
};

export async function run(ctx: CliContext): Promise<number> {
  return dispatch(ctx, TOKENS);
}
