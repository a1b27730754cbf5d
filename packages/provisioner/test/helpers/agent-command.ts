import path from "node:path";
import { ensureCliBuilt, ROOT } from "../../../cli/test/helpers/run-cli.js";

/** `outpost agent` from this checkout's CLI bundle: the real agent, as the process driver runs it. */
export async function realAgentCommand(): Promise<string[]> {
  await ensureCliBuilt();
  return [process.execPath, path.join(ROOT, "packages/cli/bin/outpost.mjs"), "agent"];
}
