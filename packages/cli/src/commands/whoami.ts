import { parseArgs } from "node:util";
import { authedClient } from "../client.js";
import type { CliContext } from "../context.js";
import { json, parseFormat } from "../output.js";

export async function run(ctx: CliContext): Promise<number> {
  const { values } = parseArgs({ args: ctx.argv, options: { output: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    ctx.io.out("Usage: outpost whoami [-o json]\n\nShows the logged-in user and the deployment URL.");
    return 0;
  }
  const format = parseFormat(values.output);
  const client = await authedClient(ctx);
  const me = await client.me();
  if (format === "json") ctx.io.out(json({ url: client.url, user: me }));
  else ctx.io.out(`${me.username} (${me.email}) on ${client.url}, roles: ${me.roles.join(", ")}`);
  return 0;
}
