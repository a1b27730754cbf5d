// Bundles the CLI (which includes `outpost server`) into packages/cli/dist with esbuild.
// ESM with code splitting: each command is its own chunk, loaded only when run, so `outpost ssh --stdio`
// (every SSH connection's ProxyCommand) does not pay for the server's code. npm packages stay external
// and load from node_modules; our workspace packages (TypeScript) are bundled. That is also what lets
// `outpost agent` (packages/agent, bundled) load the native addons of ssh2 (with its optional
// cpu-features) and node-pty: they must never be bundled.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const quiet = process.argv.includes("--quiet");
const outdir = path.join(root, "packages/cli/dist");

const externalPackages = {
  name: "external-npm-packages",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("@outpost/")) return undefined;
      return { path: args.path, external: true };
    });
  },
};

const started = Date.now();
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { outpost: "packages/cli/src/entry.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  chunkNames: "chunks/[name]-[hash]",
  plugins: [externalPackages],
  logLevel: "warning",
});
if (!quiet) console.log(`built packages/cli/dist in ${Date.now() - started} ms`);
