import { parseArgs } from "node:util";
import { OutpostClient } from "@outpost/sdk/client";
import { emailSchema, passwordSchema, usernameSchema } from "@outpost/sdk/names";
import { readSession, writeSession } from "../config-store.js";
import { CliError, type CliContext } from "../context.js";

const HELP = `Usage: outpost login [URL] [options]

Logs in to an Outpost deployment and saves the session (OUTPOST_CONFIG_DIR, default ~/.config/outpost).
On a new deployment it creates the first user (the site owner).

Options:
  --token TOKEN                   use an existing API token instead of a password
  --email EMAIL                   email to log in with (prompted when interactive)
  --password PASSWORD             password (prompted when interactive; prefer the prompt)
  --first-user-email EMAIL        set up a new deployment non-interactively:
  --first-user-username NAME        the owner's email, username
  --first-user-password PASSWORD    and password`;

function normaliseUrl(raw: string): string {
  const withScheme = /^https?:\/\//.test(raw) ? raw : `http://${raw}`;
  try {
    const u = new URL(withScheme);
    return u.origin;
  } catch {
    throw new CliError(`invalid URL: ${raw}`, ["e.g. outpost login http://127.0.0.1:3000"], 2);
  }
}

async function ask(ctx: CliContext, flag: string, value: string | undefined, question: string, secret = false): Promise<string> {
  if (value !== undefined) return value;
  if (!ctx.io.interactive) throw new CliError(`missing ${flag}`, ["not running in a terminal, so nothing can be prompted for"], 2);
  return ctx.io.prompt(question, { secret });
}

function check(field: string, schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } }, value: string): void {
  const r = schema.safeParse(value);
  if (!r.success) throw new CliError(`invalid ${field}: ${r.error!.issues[0]!.message}`, [], 2);
}

export async function run(ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: ctx.argv,
    allowPositionals: true,
    options: {
      token: { type: "string" },
      email: { type: "string" },
      password: { type: "string" },
      "first-user-email": { type: "string" },
      "first-user-username": { type: "string" },
      "first-user-password": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    ctx.io.out(HELP);
    return 0;
  }
  const saved = await readSession(ctx);
  const rawUrl = positionals[0] ?? ctx.env.OUTPOST_URL ?? saved?.url;
  if (!rawUrl) throw new CliError("missing URL", ["usage: outpost login URL"], 2);
  const url = normaliseUrl(rawUrl);
  const client = new OutpostClient({ url });

  if (values.token) {
    client.token = values.token;
    const me = await client.me();
    await writeSession(ctx, { url, token: values.token });
    ctx.io.out(`Logged in to ${url} as ${me.username}.`);
    return 0;
  }

  const { setup_done } = await client.firstUserStatus();
  let email: string;
  let password: string;
  if (!setup_done) {
    ctx.io.out(`${url} has no users yet: creating the first user (the site owner).`);
    const username = await ask(ctx, "--first-user-username", values["first-user-username"], "Username");
    check("username", usernameSchema, username);
    email = await ask(ctx, "--first-user-email", values["first-user-email"], "Email");
    check("email", emailSchema, email);
    password = await ask(ctx, "--first-user-password", values["first-user-password"], "Password", true);
    check("password", passwordSchema, password);
    if (values["first-user-password"] === undefined) {
      const again = await ctx.io.prompt("Confirm password", { secret: true });
      if (again !== password) throw new CliError("passwords do not match", [], 2);
    }
    await client.createFirstUser({ email, username, password });
    ctx.io.out(`Created ${username} as the site owner.`);
  } else {
    if (values["first-user-email"]) ctx.io.err("note: this deployment is already set up; logging in instead of creating a first user");
    email = await ask(ctx, "--email", values.email ?? values["first-user-email"], "Email");
    password = await ask(ctx, "--password", values.password ?? values["first-user-password"], "Password", true);
  }
  const { session_token } = await client.login({ email, password });
  client.token = session_token;
  const me = await client.me();
  await writeSession(ctx, { url, token: session_token });
  ctx.io.out(`Logged in to ${url} as ${me.username}.`);
  return 0;
}
