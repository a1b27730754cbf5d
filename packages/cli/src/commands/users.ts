import { CliError, type CliContext } from "../context.js";

export async function run(_ctx: CliContext): Promise<number> {
  throw new CliError("not yet implemented");
}
