import { FleetClient } from "@outpost/sdk/client-fleet";
import { readSession } from "./config-store.js";
import { CliError, type CliContext } from "./context.js";

/** A client for the saved deployment; OUTPOST_URL / OUTPOST_SESSION_TOKEN override the saved login. */
export async function authedClient(ctx: CliContext): Promise<FleetClient> {
  const saved = await readSession(ctx);
  const url = ctx.env.OUTPOST_URL || saved?.url;
  const token = ctx.env.OUTPOST_SESSION_TOKEN || saved?.token;
  if (!url || !token) throw new CliError("you are not logged in", ["run `outpost login URL` first"]);
  return new FleetClient({ url, token });
}
