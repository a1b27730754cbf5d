// Times the provisioner's own template loader (packages/provisioner/src/template-loader.ts) outside a
// build: what every workspace build pays to evaluate its template (esbuild bundle of template.ts, then
// a fresh Node process that runs it). The loader is TypeScript, so it is bundled once with esbuild into
// node_modules/.cache/outpost-bench (inside node_modules, so its own package look-ups resolve).
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { now } from "./outpost.mjs";

export async function timeTemplateEval(repoRoot, templateDir, context, runs = 5) {
  const require = createRequire(path.join(repoRoot, "package.json"));
  const esbuild = await import(pathToFileURL(require.resolve("esbuild")).href);
  const outdir = path.join(repoRoot, "node_modules/.cache/outpost-bench");
  mkdirSync(outdir, { recursive: true });
  const outfile = path.join(outdir, "template-loader.mjs");
  await esbuild.build({
    absWorkingDir: repoRoot,
    entryPoints: [path.join(repoRoot, "packages/provisioner/src/template-loader.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "silent",
  });
  const { loadTemplate } = await import(`${pathToFileURL(outfile).href}?t=${Date.now()}`);
  const loadMs = [];
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    await loadTemplate({ dir: templateDir, timeoutMs: 30_000 }, { mode: "build", context });
    loadMs.push(now() - t0);
  }
  // The child the loader spawns, without any template: Node's own start with the loader's flags.
  const childStartMs = [];
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    spawnSync(process.execPath, ["--enable-source-maps", "--max-old-space-size=256", "-e", "0"]);
    childStartMs.push(now() - t0);
  }
  return { loadMs, childStartMs };
}
