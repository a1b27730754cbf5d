import type { CliContext } from "../context.js";

// The one CLI module that imports the server package: `outpost server` runs it in this process.
export async function run(ctx: CliContext): Promise<number> {
  const { runServerCommand } = await import("@outpost/server/main");
  return runServerCommand(ctx.argv, { out: ctx.io.out, err: ctx.io.err });
}
