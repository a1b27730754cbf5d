import { FleetClient } from "@outpost/sdk/client-fleet";
import { currentSession } from "./config-store.js";
import { CliError, type CliContext } from "./context.js";

/** A client for the saved deployment; OUTPOST_URL / OUTPOST_SESSION_TOKEN override the saved login. */
export async function authedClient(ctx: CliContext): Promise<FleetClient> {
  const session = await currentSession(ctx);
  if (!session) throw new CliError("you are not logged in", ["run `outpost login URL` first"]);
  return new FleetClient(session);
}
