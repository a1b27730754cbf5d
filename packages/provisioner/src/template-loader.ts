import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { build, type Message, type Plugin } from "esbuild";
import type { RunnerInput, RunnerOutput } from "./template-runner.js";
import { typecheckTemplate } from "./template-typecheck.js";

export const TEMPLATE_ENTRY = "template.ts";

/** A template that cannot be loaded, with where (file:line:column) when known. */
export class TemplateLoadError extends Error {
  constructor(
    message: string,
    readonly location?: string,
    readonly field?: string,
  ) {
    super(location ? `${location}: ${message}` : message);
    this.name = "TemplateLoadError";
  }
}

export interface LoadOptions {
  /** The template folder (holding template.ts). */
  dir: string;
  /** Wall-clock limit for running the template code. */
  timeoutMs?: number;
  /** Type-check template.ts first (import jobs do; builds of an imported version need not). */
  typecheck?: boolean;
  /** Lines the template printed (console.log) or build progress. */
  onLog?: (level: "info" | "warn" | "error", line: string) => void;
  /**
   * Keep the bundle at this path and reuse it when it exists. Only for folders whose content never
   * changes (an extracted, immutable template archive); saves the bundling on every later build.
   */
  bundleCache?: string;
}

export interface LoadedTemplate {
  parameters: Record<string, unknown>;
  resources: unknown[];
}

function packageSource(pkg: string, file: string): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "src", file);
}

function formatLocation(dir: string, m: Message): string | undefined {
  if (!m.location) return undefined;
  const file = path.relative(dir, path.resolve(dir, m.location.file)) || m.location.file;
  return `${file}:${m.location.line}:${m.location.column + 1}`;
}

/**
 * zod (through @outpost/template) is most of a template bundle's size (and its source map): load it
 * from our node_modules by absolute path instead of bundling it every time.
 */
const zodExternal: Plugin = {
  name: "zod-external",
  setup(b) {
    const require = createRequire(import.meta.url);
    const pkgJson = require.resolve("zod/package.json");
    const exportsMap = (JSON.parse(readFileSync(pkgJson, "utf8")) as { exports: Record<string, { import?: string }> }).exports;
    b.onResolve({ filter: /^zod(\/.*)?$/ }, (args) => {
      const target = exportsMap[args.path === "zod" ? "." : `.${args.path.slice(3)}`]?.import;
      return target ? { path: path.join(path.dirname(pkgJson), target), external: true } : undefined;
    });
  },
};

/** Bundles template.ts with the runner into one ES module at `outfile` (TypeScript stripped, imports resolved). */
async function bundle(dir: string, outfile: string): Promise<void> {
  const entry = path.join(dir, TEMPLATE_ENTRY);
  const runner = packageSource("@outpost/provisioner", "template-runner.ts");
  const shim = [
    `import * as mod from ${JSON.stringify(entry)};`,
    `import { runTemplate } from ${JSON.stringify(runner)};`,
    `process.once("message", async (input) => { const out = await runTemplate(mod, input); process.send(out, () => process.exit(0)); });`,
  ].join("\n");
  try {
    await build({
      absWorkingDir: dir,
      outfile,
      stdin: { contents: shim, resolveDir: dir, sourcefile: "outpost-template-entry.js", loader: "js" },
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "inline",
      logLevel: "silent",
      alias: { "@outpost/template": packageSource("@outpost/template", "template.ts") },
      plugins: [zodExternal],
    });
  } catch (err) {
    const first = (err as { errors?: Message[] }).errors?.[0];
    if (!first) throw err;
    throw new TemplateLoadError(first.text, formatLocation(dir, first));
  }
}

/** The first stack frame inside the template folder, as `template.ts:LINE:COL`. */
function locateInStack(dir: string, stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  for (const line of stack.split("\n")) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (!m) continue;
    const file = m[1]!.replace(/^file:\/\//, "");
    if (file.startsWith(dir + path.sep)) return `${path.relative(dir, file)}:${m[2]}:${m[3]}`;
  }
  return undefined;
}

/**
 * Loads a template folder: type-check, bundle, then run it in a child process with a time limit.
 * Template code never runs in the calling process.
 */
export async function loadTemplate(opts: LoadOptions, input: RunnerInput): Promise<LoadedTemplate> {
  const dir = path.resolve(opts.dir);
  if (!existsSync(path.join(dir, TEMPLATE_ENTRY))) throw new TemplateLoadError(`no ${TEMPLATE_ENTRY} in the template folder`);
  if (opts.typecheck) {
    opts.onLog?.("info", "type-checking template.ts");
    const problems = typecheckTemplate(dir, packageSource("@outpost/template", "template.ts"));
    if (problems.length) {
      for (const p of problems.slice(1)) opts.onLog?.("error", `${p.location}: ${p.message}`);
      throw new TemplateLoadError(problems[0]!.message, problems[0]!.location);
    }
  }
  if (opts.bundleCache) {
    if (!existsSync(opts.bundleCache)) {
      // Written aside and renamed: concurrent loads of one folder never run a half-written bundle.
      const partial = `${opts.bundleCache}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      await bundle(dir, partial);
      await fs.rename(partial, opts.bundleCache);
    }
    return runChild(dir, opts.bundleCache, input, opts);
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-template-"));
  const file = path.join(tmp, "template.mjs");
  try {
    await bundle(dir, file);
    return await runChild(dir, file, input, opts);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

function runChild(dir: string, file: string, input: RunnerInput, opts: LoadOptions): Promise<LoadedTemplate> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    // A clean environment: the template sees no server secrets, and NODE_OPTIONS cannot inject code.
    const child = spawn(process.execPath, ["--enable-source-maps", "--max-old-space-size=256", file], {
      cwd: dir,
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir, LANG: "C.UTF-8" },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    let stderrTail = "";
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill("SIGKILL");
      fn();
    };
    const timer = setTimeout(() => finish(() => reject(new TemplateLoadError(`template did not finish within ${Math.round(timeoutMs / 1000)} s (an endless loop, or waiting on something?)`))), timeoutMs);
    const pipeLines = (stream: NodeJS.ReadableStream, level: "info" | "error") => {
      let buf = "";
      stream.setEncoding("utf8");
      stream.on("data", (d: string) => {
        if (level === "error") stderrTail = (stderrTail + d).slice(-4000);
        buf += d;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          opts.onLog?.(level, buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      stream.on("end", () => buf && opts.onLog?.(level, buf));
    };
    pipeLines(child.stdout!, "info");
    pipeLines(child.stderr!, "error");
    child.on("message", (msg: RunnerOutput) => {
      finish(() => {
        if (msg.ok) resolve({ parameters: msg.parameters as Record<string, unknown>, resources: msg.resources });
        else reject(new TemplateLoadError(msg.error, locateInStack(dir, msg.stack), msg.field));
      });
    });
    child.on("error", (err) => finish(() => reject(err)));
    child.on("exit", (code, signal) => {
      finish(() => reject(new TemplateLoadError(`template process exited (${signal ?? `code ${code}`}) before answering${stderrTail ? `: ${stderrTail.trim().split("\n").slice(-5).join(" | ")}` : ""}`)));
    });
    child.send(input);
  });
}
