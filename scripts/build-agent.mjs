// Builds the workspace agent as one self-contained Linux executable (a Node single executable
// application): packages/agent/dist/outpost-agent-linux-amd64, plus `.sha256` (sha256sum format) and
// `.json` (version, sha256, sizes, build key) next to it.
//
//   node scripts/build-agent.mjs [--force] [--quiet] [--no-verify]
//
// Steps: esbuild bundles packages/agent/src/main.ts to one CommonJS file (a SEA's `require` loads
// built-ins only), redirecting the native addons (ssh2's sshcrypto.node, node-pty's pty.node,
// bufferutil.node) to packages/agent/src/sea-addons.ts, which extracts them from the SEA assets at run
// time; `node --experimental-sea-config` makes the blob (bundle + code cache + addons); the node
// binary running this script is copied, stripped (before injection: strip after would break the
// blob) and the blob injected with postject; the result is verified (`--version`, `--self-test`)
// before it replaces the previous build. Nothing is rebuilt when the build key (bundle, addons, node
// binary, this script) matches the last build's. Concurrent builds serialize on a lock directory.
//
// Importable: `buildAgent({ force, quiet, verify })` resolves to the manifest (see `writeManifest`).
import { build } from "esbuild";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createGzip } from "node:zlib";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const agentDir = path.join(root, "packages/agent");
const distDir = path.join(agentDir, "dist");
export const AGENT_BINARY_NAME = "outpost-agent-linux-amd64";
export const agentBinaryPath = path.join(distDir, AGENT_BINARY_NAME);
const manifestPath = `${agentBinaryPath}.json`;
const loaderPath = path.join(agentDir, "src/sea-addons.ts");
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const agentRequire = createRequire(path.join(agentDir, "package.json"));

/** Directory of an installed package as the agent resolves it. */
function packageDir(name) {
  let dir = path.dirname(agentRequire.resolve(name));
  while (!existsSync(path.join(dir, "package.json")) || JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).name !== name) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the package directory of ${name}`);
    dir = up;
  }
  return dir;
}

/**
 * Native addons embedded as SEA assets. `rebuild`: the npm package whose install script builds it
 * (run `npm rebuild <pkg>` when it is missing; ssh2's own script passes the right OpenSSL major to
 * node-gyp, a plain node-gyp build compiles against the wrong OpenSSL API and every connection fails).
 */
function addonTable() {
  const ssh2 = packageDir("ssh2");
  const nodePty = packageDir("node-pty");
  const bufferutil = packageDir("bufferutil");
  return [
    { name: "sshcrypto.node", file: path.join(ssh2, "lib/protocol/crypto/build/Release/sshcrypto.node"), rebuild: "ssh2" },
    { name: "pty.node", file: path.join(nodePty, "build/Release/pty.node"), rebuild: "node-pty" },
    { name: "bufferutil.node", file: path.join(bufferutil, "prebuilds/linux-x64/bufferutil.node") },
  ].map((a) => ({ ...a, dirs: { ssh2, nodePty, bufferutil } }));
}

// Packages the agent must not pull in: optional helpers whose absence the code handles (ssh2 only
// uses cpu-features to order its default ciphers; ws uses buffer.isUtf8 on Node 20 instead of
// utf-8-validate). Their `require` throws inside the bundle, as when they are not installed.
const STUBBED = ["cpu-features", "utf-8-validate"];

function seaPlugin(addons) {
  const { ssh2, nodePty, bufferutil } = addons[0].dirs;
  const loadAddon = (name) =>
    `module.exports = require(${JSON.stringify(loaderPath)}).loadEmbeddedAddon(${JSON.stringify(name)});\n`;
  return {
    name: "sea-native-addons",
    setup(b) {
      b.onResolve({ filter: new RegExp(`^(${STUBBED.join("|")})$`) }, (args) => ({ path: args.path, namespace: "sea-stub" }));
      b.onLoad({ filter: /.*/, namespace: "sea-stub" }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is not bundled in the outpost agent`)});\n`,
        loader: "js",
      }));
      // ssh2: `require('./crypto/build/Release/sshcrypto.node')` inside a try (failure = JS fallback).
      b.onResolve({ filter: /\.node$/ }, (args) => {
        const target = path.resolve(args.resolveDir, args.path);
        if (target === path.join(ssh2, "lib/protocol/crypto/build/Release/sshcrypto.node")) {
          return { path: "sshcrypto.node", namespace: "sea-addon" };
        }
        return { errors: [{ text: `native addon ${args.path} (from ${args.importer}) is not embedded: add it to addonTable() in scripts/build-agent.mjs` }] };
      });
      b.onLoad({ filter: /.*/, namespace: "sea-addon" }, (args) => ({
        contents: loadAddon(args.path),
        loader: "js",
        resolveDir: path.dirname(loaderPath),
      }));
      // node-pty: lib/utils.js's loadNativeModule() probes build/ and prebuilds/ with a computed require.
      b.onLoad({ filter: /[\\/]node-pty[\\/]lib[\\/]utils\.js$/ }, (args) => {
        if (!args.path.startsWith(nodePty + path.sep)) return undefined;
        const original = readFileSync(args.path, "utf8");
        if (!original.includes("function loadNativeModule(name)")) {
          return { errors: [{ text: `node-pty's ${args.path} no longer defines loadNativeModule(name): update scripts/build-agent.mjs` }] };
        }
        return {
          contents: `"use strict";
exports.assign = function assign(target, ...sources) {
  sources.forEach((source) => Object.keys(source).forEach((key) => (target[key] = source[key])));
  return target;
};
exports.loadNativeModule = function loadNativeModule(name) {
  // dir: only used for macOS's spawn-helper; Linux forks in the addon itself.
  return { dir: "./sea-embedded/", module: require(${JSON.stringify(loaderPath)}).loadEmbeddedAddon(name + ".node") };
};
`,
          loader: "js",
          resolveDir: path.dirname(loaderPath),
        };
      });
      // bufferutil: node-gyp-build looks for prebuilds next to the package; ws falls back to JS if this throws.
      b.onLoad({ filter: /[\\/]bufferutil[\\/]index\.js$/ }, (args) => {
        if (args.path !== path.join(bufferutil, "index.js")) return undefined;
        return { contents: loadAddon("bufferutil.node"), loader: "js", resolveDir: path.dirname(loaderPath) };
      });
    },
  };
}

function sha256(data) {
  return createHash("sha256").update(data).digest("hex");
}

async function sha256File(file) {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}

async function gzipSize(file) {
  let size = 0;
  const counter = new (await import("node:stream")).Writable({
    write(chunk, _enc, cb) {
      size += chunk.length;
      cb();
    },
  });
  await pipeline(createReadStream(file), createGzip({ level: 6 }), counter);
  return size;
}

/** Highest GLIBC_x.y symbol version a binary references: the oldest glibc it runs on. */
function glibcNeeded(files) {
  let best = [0, 0];
  for (const f of files) {
    for (const m of readFileSync(f).toString("latin1").matchAll(/GLIBC_(\d+)\.(\d+)/g)) {
      const v = [Number(m[1]), Number(m[2])];
      if (v[0] > best[0] || (v[0] === best[0] && v[1] > best[1])) best = v;
    }
  }
  return best.join(".");
}

const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** An environment for running the built binary: a SEA honours NODE_OPTIONS, so never pass it on. */
function cleanEnv() {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/** Makes sure each addon file exists and loads in this node; rebuilds ssh2 / node-pty when needed. */
function checkAddons(addons, log) {
  const probe = (a) =>
    spawnSync(process.execPath, ["-e", `process.dlopen({ exports: {} }, ${JSON.stringify(a.file)})`], { encoding: "utf8", env: cleanEnv() });
  for (const a of addons) {
    let result = existsSync(a.file) ? probe(a) : { status: 1, stderr: "missing" };
    if (result.status !== 0 && a.rebuild) {
      log(`  ${a.name}: ${result.stderr.trim().split("\n")[0]}; running npm rebuild ${a.rebuild}`);
      execFileSync("npm", ["rebuild", a.rebuild], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
      result = existsSync(a.file) ? probe(a) : { status: 1, stderr: "still missing after npm rebuild" };
    }
    if (result.status !== 0) throw new Error(`native addon ${a.name} (${a.file}) does not load: ${result.stderr.trim()}`);
  }
  // ssh2 wraps its addon load in a try: check that it really took the native path.
  const ssh2 = spawnSync(process.execPath, ["-e", "process.stdout.write(String(require('ssh2/lib/protocol/crypto').bindingAvailable))"], {
    cwd: agentDir,
    encoding: "utf8",
    env: cleanEnv(),
  });
  if (ssh2.stdout !== "true") {
    throw new Error(`ssh2's native crypto binding is not available (${ssh2.stdout}${ssh2.stderr}): run npm rebuild ssh2 (with ssh2 approved in allowScripts)`);
  }
}

/** Serializes builds of this checkout (a test and a server may both ask for the binary). */
async function withLock(fn, log) {
  const lock = path.join(distDir, ".build.lock");
  mkdirSync(distDir, { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  let waited = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      let pid = 0;
      try {
        pid = Number(readFileSync(path.join(lock, "pid"), "utf8"));
      } catch {
        // the holder has not written its pid yet
      }
      let alive = true;
      if (pid > 0) {
        try {
          process.kill(pid, 0);
        } catch (e) {
          alive = e.code === "EPERM";
        }
      } else {
        alive = Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs < 10_000;
      }
      if (!alive) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another agent build (pid ${pid}) holds ${lock} for more than 10 minutes`);
      if (!waited) log(`waiting for another agent build (pid ${pid})`);
      waited = true;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function readManifest() {
  try {
    return JSON.parse(readFileSync(manifestPath, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Builds the agent binary unless the last build has the same key. Resolves to the manifest:
 * { path, version, sha256, size, gzipSize, key, node, builtAt, cached }.
 */
export async function buildAgent({ force = false, quiet = false, verify = true } = {}) {
  const log = quiet ? () => {} : (line) => console.log(line);
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`the agent binary is built for linux-x64 on linux-x64 (this is ${process.platform}-${process.arch})`);
  }
  const started = Date.now();
  return withLock(async () => {
    const addons = addonTable();
    checkAddons(addons, log);

    // 1. bundle (fast: always done, its output is part of the build key)
    const bundle = await build({
      absWorkingDir: root,
      entryPoints: [path.join(agentDir, "src/main.ts")],
      bundle: true,
      write: false,
      format: "cjs",
      platform: "node",
      target: "node20",
      minifyWhitespace: true,
      minifySyntax: true,
      keepNames: true,
      legalComments: "none",
      plugins: [seaPlugin(addons)],
      logLevel: "warning",
      outfile: "agent.cjs",
    });
    const code = bundle.outputFiles[0].contents;
    const version = JSON.parse(readFileSync(path.join(agentDir, "package.json"), "utf8")).version;
    const nodeStat = statSync(process.execPath);
    const key = sha256(
      JSON.stringify({
        bundle: sha256(code),
        addons: addons.map((a) => [a.name, sha256(readFileSync(a.file))]),
        node: [process.version, process.execPath, nodeStat.size, nodeStat.mtimeMs],
        script: sha256(readFileSync(fileURLToPath(import.meta.url))),
        version,
      }),
    );
    const previous = readManifest();
    if (!force && previous?.key === key && existsSync(agentBinaryPath) && statSync(agentBinaryPath).size === previous.size) {
      log(`agent binary up to date: ${path.relative(root, agentBinaryPath)} (${mb(previous.size)}, sha256 ${previous.sha256.slice(0, 12)}) in ${Date.now() - started} ms`);
      return { ...previous, path: agentBinaryPath, cached: true };
    }
    log(`bundled packages/agent/src/main.ts: ${(code.length / 1024).toFixed(0)} KiB (${Date.now() - started} ms)`);

    const work = path.join(distDir, `.build-${process.pid}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    try {
      // 2. SEA blob: bundle + V8 code cache + addons as assets
      let t = Date.now();
      writeFileSync(path.join(work, "agent.cjs"), code);
      const seaConfig = {
        main: path.join(work, "agent.cjs"),
        output: path.join(work, "sea-prep.blob"),
        disableExperimentalSEAWarning: true,
        useCodeCache: true,
        assets: Object.fromEntries(addons.map((a) => [a.name, a.file])),
      };
      writeFileSync(path.join(work, "sea-config.json"), JSON.stringify(seaConfig, null, 2));
      execFileSync(process.execPath, ["--experimental-sea-config", path.join(work, "sea-config.json")], {
        cwd: work,
        env: cleanEnv(),
        stdio: "pipe", // "Wrote single executable preparation blob to ..."; on failure its stderr is in the error
      });
      const blob = readFileSync(seaConfig.output);
      log(`SEA blob: ${mb(blob.length)} with ${addons.map((a) => a.name).join(", ")} (${Date.now() - t} ms)`);

      // 3. node binary, stripped before injection
      t = Date.now();
      const exe = path.join(work, AGENT_BINARY_NAME);
      copyFileSync(process.execPath, exe);
      chmodSync(exe, 0o755);
      const before = statSync(exe).size;
      execFileSync("strip", [exe], { stdio: ["ignore", "inherit", "inherit"] });
      log(`node ${process.version}: ${mb(before)} -> stripped ${mb(statSync(exe).size)} (${Date.now() - t} ms)`);

      // 4. inject
      t = Date.now();
      const { inject } = agentRequire("postject");
      const warnings = [];
      const warn = console.warn;
      console.warn = (...args) => warnings.push(args.join(" "));
      try {
        await inject(exe, "NODE_SEA_BLOB", blob, { sentinelFuse: SEA_FUSE });
      } finally {
        console.warn = warn;
      }
      for (const w of warnings) if (!/Can't find string offset for section name/.test(w)) log(`  postject: ${w}`);
      const size = statSync(exe).size;
      log(`injected with postject: ${mb(size)} (${Date.now() - t} ms)`);

      // 5. verify before it replaces the previous build
      if (verify) {
        t = Date.now();
        const run = (arg) => spawnSync(exe, [arg], { encoding: "utf8", env: cleanEnv(), timeout: 60_000 });
        const v = run("--version");
        if (v.status !== 0 || v.stdout.trim() !== `outpost-agent ${version}`) {
          throw new Error(`built binary: --version gave status ${v.status} ${JSON.stringify(v.stdout + v.stderr)}`);
        }
        const s = run("--self-test");
        if (s.status !== 0 || !/^ssh-ok \d+$/m.test(s.stdout) || !/^pty-ok$/m.test(s.stdout)) {
          throw new Error(`built binary: --self-test failed (status ${s.status}):\n${s.stdout}${s.stderr}`);
        }
        log(`verified: --version, --self-test (${Date.now() - t} ms)`);
      }

      // 6. hash, sizes, install
      t = Date.now();
      const [hash, gz] = await Promise.all([sha256File(exe), gzipSize(exe)]);
      const manifest = {
        version,
        sha256: hash,
        size,
        gzipSize: gz,
        key,
        node: process.version,
        addons: addons.map((a) => a.name),
        // The addons built on this machine set the floor (bookworm: 2.34; node itself needs 2.28).
        minGlibc: glibcNeeded([process.execPath, ...addons.map((a) => a.file)]),
        builtAt: new Date().toISOString(),
      };
      renameSync(exe, agentBinaryPath);
      writeFileSync(`${agentBinaryPath}.sha256.tmp`, `${hash}  ${AGENT_BINARY_NAME}\n`);
      renameSync(`${agentBinaryPath}.sha256.tmp`, `${agentBinaryPath}.sha256`);
      writeFileSync(`${manifestPath}.tmp`, JSON.stringify(manifest, null, 2) + "\n");
      renameSync(`${manifestPath}.tmp`, manifestPath);
      log(`sha256 + gzip size (${Date.now() - t} ms)`);
      log(
        `built ${path.relative(root, agentBinaryPath)}: ${mb(size)} (gzip -6: ${mb(gz)}), needs glibc >= ${manifest.minGlibc}, sha256 ${hash.slice(0, 12)}, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      return { ...manifest, path: agentBinaryPath, cached: false };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, log);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => !["--force", "--quiet", "--no-verify"].includes(a));
  if (unknown.length > 0) {
    console.error(`usage: node scripts/build-agent.mjs [--force] [--quiet] [--no-verify] (unknown: ${unknown.join(" ")})`);
    process.exit(2);
  }
  try {
    await buildAgent({ force: args.includes("--force"), quiet: args.includes("--quiet"), verify: !args.includes("--no-verify") });
  } catch (err) {
    console.error(`build-agent: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
