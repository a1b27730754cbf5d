import { OutpostClient } from "@outpost/sdk/client";
import { OutpostError } from "@outpost/sdk/client-error";
import { deleteSession, readSession } from "../config-store.js";
import type { CliContext } from "../context.js";

export async function run(ctx: CliContext): Promise<number> {
  if (ctx.argv.includes("--help") || ctx.argv.includes("-h")) {
    ctx.io.out("Usage: outpost logout\n\nEnds the session on the server and deletes the saved session.");
    return 0;
  }
  const saved = await readSession(ctx);
  if (!saved) {
    ctx.io.out("You are not logged in.");
    return 0;
  }
  try {
    await new OutpostClient(saved).logout();
  } catch (err) {
    // An expired session or an unreachable server must not keep the local session around.
    if (!(err instanceof OutpostError)) throw err;
    ctx.io.err(`note: the server did not end the session (${err.message}); removing it locally`);
  }
  await deleteSession(ctx);
  ctx.io.out(`Logged out of ${saved.url}.`);
  return 0;
}
