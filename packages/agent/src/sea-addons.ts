// Native addons inside the single-executable agent (Node SEA).
//
// A SEA's `require` loads built-in modules only, so scripts/build-agent.mjs embeds each `.node` addon
// (node-pty's pty.node, ssh2's sshcrypto.node, bufferutil.node) as a SEA asset and redirects the
// packages' own loaders to `loadEmbeddedAddon(name)`. At first use the addon is written to a cache
// directory (file name = content hash, so an upgraded agent never loads a stale copy and two agent
// versions can share the directory) and loaded with `process.dlopen`.
//
// Where: ~/.cache/outpost-agent, then per-user directories in os.tmpdir() ($TMPDIR), /tmp, /var/tmp and
// /dev/shm. Mounts with `noexec` (dlopen fails there: "failed to map segment") and directories
// another user could write to are skipped; a candidate that fails for any other reason (read-only
// root, no home, ENOSPC) falls through to the next. Works as PID 1 in an image without Node and with no
// HOME set. (Environment only through os.homedir() and os.tmpdir(): this module runs while ssh2 and
// node-pty are imported, before any configuration is parsed.)
//
// Outside a SEA (tests, tsx, plain node) nothing here is used: ssh2 and node-pty load their addons
// from node_modules as usual.
import { createHash } from "node:crypto";
import {
  closeSync,
  constants as fsConstants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { homedir, constants as osConstants, tmpdir } from "node:os";
import path from "node:path";
import * as sea from "node:sea";

const loaded = new Map<string, unknown>();

/** True inside the single executable (the bundle built by scripts/build-agent.mjs). */
export function isSingleExecutable(): boolean {
  try {
    return sea.isSea();
  } catch {
    return false;
  }
}

/** Loads the embedded addon `name` (e.g. "pty.node") and returns its exports; memoized. */
export function loadEmbeddedAddon(name: string): unknown {
  const done = loaded.get(name);
  if (done !== undefined) return done;
  if (!isSingleExecutable()) {
    throw new Error(`loadEmbeddedAddon(${name}): not running as a single executable application`);
  }
  const bytes = new Uint8Array(sea.getRawAsset(name) as ArrayBuffer);
  const hash = createHash("sha256").update(bytes).digest("hex");
  const fileName = `${hash.slice(0, 16)}-${name}`;
  const failures: string[] = [];
  for (const dir of candidateDirs()) {
    let file: string;
    try {
      file = prepareFile(dir, fileName, bytes, hash);
    } catch (err) {
      failures.push(`${dir}: ${message(err)}`);
      continue;
    }
    const mod = { exports: {} as unknown };
    try {
      process.dlopen(mod, file, osConstants.dlopen.RTLD_NOW);
    } catch (err) {
      failures.push(`${file}: ${message(err)}`);
      continue;
    }
    loaded.set(name, mod.exports);
    return mod.exports;
  }
  throw new Error(`cannot load the embedded native addon ${name}:\n  ${failures.join("\n  ")}`);
}

/** Directories to try, in order, without duplicates: `home` and `tmp` default to os.homedir() and os.tmpdir(). */
export function candidateDirs(home: string | undefined = homeDir(), tmp: string | undefined = tmpdir()): string[] {
  const out: string[] = [];
  const add = (dir: string | undefined) => {
    if (dir && path.isAbsolute(dir)) {
      const d = path.resolve(dir);
      if (!out.includes(d)) out.push(d);
    }
  };
  add(home && path.join(home, ".cache", "outpost-agent"));
  const user = `outpost-agent-${typeof process.getuid === "function" ? process.getuid() : "user"}`;
  for (const t of [tmp, "/tmp", "/var/tmp", "/dev/shm"]) add(t && path.join(t, user));
  return out;
}

function homeDir(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined; // no HOME and no passwd entry for this uid
  }
}

/** Makes sure `dir/fileName` holds exactly `bytes`; returns its path. Throws when `dir` is unusable. */
function prepareFile(dir: string, fileName: string, bytes: Uint8Array, hash: string): string {
  makeDirs(dir);
  const real = realpathSync(dir);
  checkOwnDir(real);
  const options = mountOptions(real);
  if (options?.includes("noexec")) throw new Error("mounted noexec");
  const file = path.join(real, fileName);
  try {
    const existing = readFileSync(file);
    if (createHash("sha256").update(existing).digest("hex") === hash) return file;
  } catch {
    // missing or unreadable: (re)write it below
  }
  const tmp = path.join(real, `.${fileName}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o700);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    safeUnlink(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file); // atomic: a concurrent agent sees the old file or the whole new one
  } catch (err) {
    safeUnlink(tmp);
    throw err;
  }
  return file;
}

/**
 * `mkdir -p` with mode 0700. Not `mkdirSync(dir, { recursive: true })`: on Node 20 that loops forever
 * (100% CPU) when a parent is on a file system that answers ENOENT to mkdir, such as /proc.
 */
function makeDirs(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return; // checkOwnDir() looks at what it is
    const parent = path.dirname(dir);
    if (code !== "ENOENT" || parent === dir) throw err;
    makeDirs(parent);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== "EEXIST") throw again; // a concurrent agent made it
    }
  }
}

/** A shared directory (e.g. /tmp/outpost-agent-0) is used only when it is ours and nobody else can write to it. */
function checkOwnDir(dir: string): void {
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error("not a directory");
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid) throw new Error(`owned by uid ${st.uid}, not ${uid}`);
  if ((st.mode & 0o022) !== 0) throw new Error(`writable by others (mode ${(st.mode & 0o777).toString(8)})`);
}

/** Options of the mount holding `file` (per-mount and super-block options), from /proc/self/mountinfo. */
export function mountOptions(file: string, mountinfo?: string): string[] | undefined {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/mountinfo", "utf8");
    } catch {
      return undefined; // no /proc (unusual container): let dlopen decide
    }
  }
  let best: { point: string; options: string[] } | undefined;
  for (const line of text.split("\n")) {
    // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    const fields = line.split(" ");
    const sep = fields.indexOf("-");
    if (fields.length < 6 || sep < 0) continue;
    const point = unescapeMount(fields[4]!);
    const inside = point === "/" || file === point || file.startsWith(point + "/");
    if (!inside || (best && best.point.length > point.length)) continue;
    const options = [...fields[5]!.split(","), ...(fields[sep + 3] ?? "").split(",")];
    best = { point, options };
  }
  return best?.options;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function safeUnlink(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0]! : String(err);
}
