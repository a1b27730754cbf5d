// `outpost dotfiles`: the implementation lives in the agent package, so the agent binary offers the
// same command inside containers that have no Node (see packages/agent/src/dotfiles.ts).
import { DotfilesError, runDotfiles } from "@outpost/agent/dotfiles";
import { configDir } from "../config-store.js";
import { CliError, type CliContext } from "../context.js";

export async function run(ctx: CliContext): Promise<number> {
  try {
    return await runDotfiles({ argv: ctx.argv, env: ctx.env, home: ctx.home, configDir: configDir(ctx), out: ctx.io.out, err: ctx.io.err });
  } catch (err) {
    if (err instanceof DotfilesError) throw new CliError(err.message, err.hints, err.exitCode);
    throw err;
  }
}
