// The sdk is TypeScript: bundle the parts a bench needs into one temp .mjs with esbuild (a dev
// dependency) and import it, so benches run with plain `node` and speak the real protocol code.
import { build } from "esbuild";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { repoRoot } from "./outpost.mjs";

/**
 * `source` is an ES module text importing from "@outpost/sdk/..." (resolved through node_modules) and
 * re-exporting what the bench uses; it is bundled to `dir/name.mjs` and imported.
 */
export async function importSdk(dir, name, source) {
  const outfile = path.join(dir, `${name}.mjs`);
  await build({
    stdin: { contents: source, resolveDir: repoRoot, loader: "js", sourcefile: `${name}-entry.mjs` },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outfile,
    logLevel: "error",
  });
  return import(pathToFileURL(outfile).href);
}
