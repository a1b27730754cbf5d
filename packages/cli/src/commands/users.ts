import { emailSchema, passwordWeakness, usernameSchema } from "@outpost/sdk/names";
import { ASSIGNABLE_ROLES, SITE_ROLES, type AssignableRole, type SiteRole } from "@outpost/sdk/roles";
import type { User, UserStatus } from "@outpost/sdk/users";
import { authedClient } from "../client.js";
import { CliError, type CliContext } from "../context.js";
import { ago, json, parseFormat, table } from "../output.js";
import { askFor, checkValue, dispatch, parseSubArgs, type CommandGroup } from "../subcommands.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A user on the command line: `me`, a username or an id. */
function userRef(value: string): string {
  if (value === "me" || UUID.test(value)) return value;
  checkValue("username", usernameSchema, value);
  return value;
}

/** --role values: repeatable and comma-separated; `member` is implicit, so it is accepted and dropped. */
function parseRoles(flag: string, values: string[] | undefined): AssignableRole[] {
  const out = new Set<AssignableRole>();
  for (const raw of values ?? []) {
    for (const part of raw.split(",").map((s) => s.trim())) {
      if (part === "" || part === "member") continue;
      if (!(ASSIGNABLE_ROLES as readonly string[]).includes(part)) {
        throw new CliError(`invalid value for ${flag}: ${JSON.stringify(part)}`, [`roles: ${ASSIGNABLE_ROLES.join(", ")} (member is implicit)`], 2);
      }
      out.add(part as AssignableRole);
    }
  }
  return [...out];
}

function parseCount(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw new CliError(`invalid value for ${flag}: ${JSON.stringify(raw)}`, [`expected a whole number from ${min} to ${max}`], 2);
  return n;
}

function roles(u: User): string {
  return u.roles.join(", ");
}

function describe(u: User): string {
  const rows: [string, string][] = [
    ["username", u.username],
    ["name", u.name || "-"],
    ["email", u.email],
    ["id", u.id],
    ["status", u.status],
    ["roles", roles(u)],
    ["login type", u.login_type],
    ["created", `${u.created_at} (${ago(u.created_at)})`],
    ["last seen", u.last_seen_at ? `${u.last_seen_at} (${ago(u.last_seen_at)})` : "never"],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${(k + ":").padEnd(width)}  ${v}`).join("\n");
}

const LIST_HELP = `Usage: outpost users list [options]

Lists users: everyone for owners, user admins, template admins and auditors; only yourself for
other members.

Options:
  -q, --search TEXT       match username, email or name (case-insensitive substring)
  --status STATUS         active or suspended
  --role ROLE             ${SITE_ROLES.join(", ")}
  --limit N               at most N users (1-1000, default 50)
  --offset N              skip the first N users
  -o, --output FORMAT     table (default) or json`;

async function list(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, {
    usage: LIST_HELP,
    options: {
      search: { type: "string", short: "q" },
      status: { type: "string" },
      role: { type: "string" },
      limit: { type: "string" },
      offset: { type: "string" },
      output: { type: "string", short: "o" },
    },
  });
  if (a.help) return 0;
  const v = a.values as { search?: string; status?: string; role?: string; limit?: string; offset?: string; output?: string };
  const format = parseFormat(v.output);
  if (v.status !== undefined && v.status !== "active" && v.status !== "suspended") {
    throw new CliError(`invalid value for --status: ${JSON.stringify(v.status)}`, ["use active or suspended"], 2);
  }
  if (v.role !== undefined && !(SITE_ROLES as readonly string[]).includes(v.role)) {
    throw new CliError(`invalid value for --role: ${JSON.stringify(v.role)}`, [`roles: ${SITE_ROLES.join(", ")}`], 2);
  }
  const limit = parseCount("--limit", v.limit, 1, 1000);
  const offset = parseCount("--offset", v.offset, 0, 1_000_000_000);
  const client = await authedClient(ctx);
  const page = await client.listUsers({
    q: v.search,
    status: v.status as UserStatus | undefined,
    role: v.role as SiteRole | undefined,
    limit,
    offset,
  });
  if (format === "json") {
    ctx.io.out(json(page.items));
    return 0;
  }
  if (page.items.length === 0) {
    ctx.io.err(page.count > 0 ? `no users at offset ${offset ?? 0} (${page.count} in total)` : "no users found");
    return 0;
  }
  ctx.io.out(
    table(
      ["username", "email", "status", "roles", "last seen"],
      page.items.map((u) => [u.username, u.email, u.status, roles(u), ago(u.last_seen_at)]),
    ),
  );
  const first = (offset ?? 0) + 1;
  const last = (offset ?? 0) + page.items.length;
  if (page.count > last || first > 1) ctx.io.err(`showing ${first}-${last} of ${page.count} users${page.count > last ? `; next page: --offset ${last}` : ""}`);
  return 0;
}

const CREATE_HELP = `Usage: outpost users create --email EMAIL --username USERNAME [options]

Creates a user who logs in with a password. Missing values are prompted for when running in a
terminal; otherwise a missing flag is an error (exit 2).

Options:
  --email EMAIL           the user's email (they log in with it)
  --username USERNAME     lowercase letters, digits and single dashes, at most 32 characters
  --password PASSWORD     initial password (prompted when interactive; prefer the prompt)
  --name NAME             display name
  --role ROLE             grant a role; repeat or separate with commas: ${ASSIGNABLE_ROLES.join(", ")}
  -o, --output FORMAT     text (default) or json: print the created user`;

async function create(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, {
    usage: CREATE_HELP,
    options: {
      email: { type: "string" },
      username: { type: "string" },
      password: { type: "string" },
      name: { type: "string" },
      role: { type: "string", multiple: true },
      output: { type: "string", short: "o" },
    },
  });
  if (a.help) return 0;
  const v = a.values as { email?: string; username?: string; password?: string; name?: string; role?: string[]; output?: string };
  const format = parseFormat(v.output === "text" ? undefined : v.output);
  const roleList = parseRoles("--role", v.role);
  // Everything is checked before the first prompt that can be skipped, so a typo fails fast.
  if (v.username !== undefined) checkValue("--username", usernameSchema, v.username);
  if (v.email !== undefined) checkValue("--email", emailSchema, v.email);
  const username = await askFor(ctx, "--username", v.username, "Username");
  checkValue("--username", usernameSchema, username);
  const email = await askFor(ctx, "--email", v.email, "Email");
  checkValue("--email", emailSchema, email);
  const password = await askFor(ctx, "--password", v.password, "Password", { secret: true });
  const weakness = passwordWeakness(password, [username, email.split("@")[0] ?? ""]);
  if (weakness) throw new CliError(`invalid --password: ${weakness}`, [], 2);
  if (v.password === undefined) {
    const again = await ctx.io.prompt("Confirm password", { secret: true });
    if (again !== password) throw new CliError("passwords do not match", [], 2);
  }
  const client = await authedClient(ctx);
  const user = await client.createUser({ email, username, password, name: v.name, roles: roleList.length ? roleList : undefined });
  if (format === "json") ctx.io.out(json(user));
  else ctx.io.out(`Created user ${user.username} (${user.email}), roles: ${roles(user)}.`);
  return 0;
}

const SHOW_HELP = `Usage: outpost users show USER [-o json]

Shows one user. USER is a username, a user id, or "me".

Options:
  -o, --output FORMAT     text (default) or json`;

async function show(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: SHOW_HELP, options: { output: { type: "string", short: "o" } }, positionals: ["USER"] });
  if (a.help) return 0;
  const v = a.values as { output?: string };
  const format = parseFormat(v.output === "text" ? undefined : v.output);
  const ref = userRef(a.positionals[0]!);
  const client = await authedClient(ctx);
  const user = await client.user(ref);
  ctx.io.out(format === "json" ? json(user) : describe(user));
  return 0;
}

function statusCommand(verb: "suspend" | "activate"): (ctx: CliContext) => Promise<number> {
  const help =
    verb === "suspend"
      ? `Usage: outpost users suspend USER\n\nSuspends a user: they cannot log in, and their sessions end. Their tokens stop working until\nthey are activated again.`
      : `Usage: outpost users activate USER\n\nActivates a suspended user: they can log in again.`;
  return async (ctx) => {
    const a = parseSubArgs(ctx, { usage: help, options: {}, positionals: ["USER"] });
    if (a.help) return 0;
    const ref = userRef(a.positionals[0]!);
    const client = await authedClient(ctx);
    const user = await client.setUserStatus(ref, verb);
    ctx.io.out(`${verb === "suspend" ? "Suspended" : "Activated"} ${user.username} (status: ${user.status}).`);
    return 0;
  };
}

const DELETE_HELP = `Usage: outpost users delete USER [-y]

Deletes a user: their username and email become free, and all their sessions and tokens are
revoked. Asks for confirmation when running in a terminal.

Options:
  -y, --yes               do not ask for confirmation (required when not running in a terminal)`;

async function remove(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: DELETE_HELP, options: { yes: { type: "boolean", short: "y" } }, positionals: ["USER"] });
  if (a.help) return 0;
  const v = a.values as { yes?: boolean };
  const ref = userRef(a.positionals[0]!);
  if (!v.yes && !ctx.io.interactive) {
    throw new CliError(`refusing to delete ${ref} without confirmation`, ["not running in a terminal: pass -y (--yes) to confirm"], 2);
  }
  const client = await authedClient(ctx);
  // Look the user up first: a typo answers "not found" before anything is asked.
  const user = await client.user(ref);
  if (!v.yes) {
    const answer = await ctx.io.prompt(`Delete user ${user.username} (${user.email})? Their tokens are revoked. [y/N]`);
    if (!/^y(es)?$/i.test(answer.trim())) {
      ctx.io.err("Not deleted.");
      return 1;
    }
  }
  await client.deleteUser(user.id);
  ctx.io.out(`Deleted user ${user.username}.`);
  return 0;
}

const ROLES_HELP = `Usage: outpost users roles USER [--set ROLE ...] [-o json]

Shows a user's site roles, or replaces them with --set. Every user is a member; the roles that can
be granted are ${ASSIGNABLE_ROLES.join(", ")}. \`--set member\` removes every granted role.

Options:
  --set ROLE              the complete new list of roles; repeat or separate with commas
  -o, --output FORMAT     text (default) or json`;

async function rolesCommand(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, {
    usage: ROLES_HELP,
    options: { set: { type: "string", multiple: true }, output: { type: "string", short: "o" } },
    positionals: ["USER"],
  });
  if (a.help) return 0;
  const v = a.values as { set?: string[]; output?: string };
  const format = parseFormat(v.output === "text" ? undefined : v.output);
  const ref = userRef(a.positionals[0]!);
  const next = v.set !== undefined ? parseRoles("--set", v.set) : undefined;
  const client = await authedClient(ctx);
  const user = next !== undefined ? await client.updateRoles((await client.user(ref)).id, next) : await client.user(ref);
  if (format === "json") ctx.io.out(json(user.roles));
  else if (next !== undefined) ctx.io.out(`Roles of ${user.username} are now: ${roles(user)}`);
  else ctx.io.out(`Roles of ${user.username}: ${roles(user)}`);
  return 0;
}

export const USERS: CommandGroup = {
  name: "users",
  description: "Manage the users of the deployment. Changing users takes the owner or user-admin role.",
  subcommands: {
    list: { summary: "List users (search, filter by status or role)", run: list },
    create: { summary: "Create a user", run: create },
    show: { summary: "Show one user", run: show },
    suspend: { summary: "Suspend a user", run: statusCommand("suspend") },
    activate: { summary: "Activate a suspended user", run: statusCommand("activate") },
    delete: { summary: "Delete a user", run: remove },
    roles: { summary: "Show or replace a user's site roles", run: rolesCommand },
  },
};

export async function run(ctx: CliContext): Promise<number> {
  return dispatch(ctx, USERS);
}
