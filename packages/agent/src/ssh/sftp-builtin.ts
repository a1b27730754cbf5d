// The built-in SFTP server, for images without OpenSSH's sftp-server: SFTP v3 on ssh2's server-side
// parser, enough for OpenSSH's sftp (ls, get, put, mkdir, rm, rename, ln -s, chmod) and scp (which
// speaks SFTP by default since OpenSSH 9). Relative paths resolve against the session directory, as
// they do against sftp-server's working directory.
//
// Ordering: replies go out in request order. OpenSSH's client keeps many READ/WRITE requests in
// flight and, for scp (in-place transfers), truncates the file at the highest offset acknowledged in
// order: answering out of order (as parallel fs calls would) silently loses data. READs and WRITEs
// still run in parallel with each other (the fs thread pool); every other request waits for what came
// before it and holds back what comes after, as sftp-server's single loop does.
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Attributes, FileEntry, SFTPWrapper } from "ssh2";
import { FX, longName, openFlags, statusOf, toAttrs } from "./sftp-fs.js";

/** Largest READ answered (OpenSSH's sftp-server limit; clients ask for 32-256 KiB). */
const MAX_READ = 256 * 1024;
/** Names per READDIR answer. */
const READDIR_BATCH = 128;

type Handle = { kind: "file"; fd: number } | { kind: "dir"; path: string; names: string[] | undefined };

/** The one answer a request gets. */
interface Reply {
  status(code: number, message?: string): void;
  handle(handle: Buffer): void;
  data(data: Buffer): void;
  name(names: FileEntry[]): void;
  attrs(attrs: Attributes): void;
}

export interface BuiltinSftpOptions {
  /** The directory relative paths resolve against; requests wait until it is known. */
  cwd: Promise<string>;
  touch: () => void;
}

const fdRead = (fd: number, buf: Buffer, position: number) =>
  new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));
const fdWrite = (fd: number, buf: Buffer, offset: number, position: number) =>
  new Promise<number>((resolve, reject) => fs.write(fd, buf, offset, buf.length - offset, position, (err, n) => (err ? reject(err) : resolve(n))));
const fdOp = (op: (cb: (err: NodeJS.ErrnoException | null) => void) => void) =>
  new Promise<void>((resolve, reject) => op((err) => (err ? reject(err) : resolve())));

export function serveBuiltinSftp(sftp: SFTPWrapper, opts: BuiltinSftpOptions): { close(): void } {
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  let cwd = "/";
  let closed = false;
  const resolve = (p: string) => path.resolve(cwd, p === "" ? "." : p);

  // Replies in request order: each request takes a slot; slots are flushed from the front.
  const slots: { send?: () => void }[] = [];
  const flush = () => {
    while (slots.length > 0 && slots[0]!.send) slots.shift()!.send!();
  };
  const replyFor = (reqid: number): Reply => {
    const slot: { send?: () => void } = {};
    slots.push(slot);
    const answer = (send: () => void) => {
      if (slot.send) return;
      slot.send = () => {
        if (!closed) send();
      };
      flush();
    };
    return {
      status: (code, message) => answer(() => sftp.status(reqid, code, message ?? "")),
      handle: (h) => answer(() => sftp.handle(reqid, h)),
      data: (d) => answer(() => sftp.data(reqid, d)),
      name: (n) => answer(() => sftp.name(reqid, n)),
      attrs: (a) => answer(() => sftp.attrs(reqid, a)),
    };
  };

  // Execution order: `barrier` settles when every request before the last exclusive one is done.
  let barrier: Promise<unknown> = opts.cwd.then((dir) => void (cwd = dir));
  const parallel = new Set<Promise<unknown>>();
  const on = <A extends unknown[]>(event: string, exclusive: boolean, handler: (res: Reply, ...args: A) => Promise<void>) => {
    sftp.on(event, (reqid: number, ...args: A) => {
      const res = replyFor(reqid);
      const exec = () =>
        handler(res, ...args).catch((err: unknown) => {
          const { code, message } = statusOf(err);
          res.status(code, message);
        });
      if (exclusive) {
        const before = [barrier, ...parallel];
        parallel.clear();
        barrier = Promise.allSettled(before).then(exec);
      } else {
        const run = barrier.then(exec);
        parallel.add(run);
        void run.finally(() => parallel.delete(run));
      }
    });
  };

  const newHandle = (h: Handle): Buffer => {
    const id = nextHandle++;
    handles.set(id, h);
    const buf = Buffer.allocUnsafe(4);
    buf.writeUInt32BE(id >>> 0, 0);
    return buf;
  };
  const lookup = (buf: Buffer): [number, Handle | undefined] => {
    if (buf.length !== 4) return [-1, undefined];
    const id = buf.readUInt32BE(0);
    return [id, handles.get(id)];
  };
  const invalidHandle = (res: Reply) => res.status(FX.FAILURE, "Invalid handle");

  on("OPEN", true, async (res, filename: string, pflags: number, attrs: Partial<Attributes>) => {
    opts.touch();
    const mode = typeof attrs.mode === "number" ? attrs.mode & 0o7777 : 0o666;
    const fd = await new Promise<number>((ok, fail) => fs.open(resolve(filename), openFlags(pflags), mode, (err, fd) => (err ? fail(err) : ok(fd))));
    if (closed) fs.close(fd, () => {}); // the channel went away while the file was being opened
    else res.handle(newHandle({ kind: "file", fd }));
  });

  on("READ", false, async (res, handle: Buffer, offset: number, length: number) => {
    const [, h] = lookup(handle);
    if (h?.kind !== "file") return invalidHandle(res);
    opts.touch();
    const buf = Buffer.allocUnsafe(Math.min(length, MAX_READ));
    const n = await fdRead(h.fd, buf, offset);
    if (n === 0) res.status(FX.EOF);
    else res.data(n === buf.length ? buf : buf.subarray(0, n));
  });

  on("WRITE", false, async (res, handle: Buffer, offset: number, data: Buffer) => {
    const [, h] = lookup(handle);
    if (h?.kind !== "file") return invalidHandle(res);
    opts.touch();
    for (let done = 0; done < data.length; ) done += await fdWrite(h.fd, data, done, offset + done);
    res.status(FX.OK);
  });

  on("CLOSE", true, async (res, handle: Buffer) => {
    const [id, h] = lookup(handle);
    if (!h) return invalidHandle(res);
    handles.delete(id);
    if (h.kind === "file") await fdOp((cb) => fs.close(h.fd, cb));
    res.status(FX.OK);
  });

  on("FSTAT", true, async (res, handle: Buffer) => {
    const [, h] = lookup(handle);
    if (!h) return invalidHandle(res);
    const st = h.kind === "file" ? await new Promise<fs.Stats>((ok, fail) => fs.fstat(h.fd, (e, s) => (e ? fail(e) : ok(s)))) : await fsp.stat(h.path);
    res.attrs(toAttrs(st));
  });
  on("STAT", true, async (res, p: string) => res.attrs(toAttrs(await fsp.stat(resolve(p)))));
  on("LSTAT", true, async (res, p: string) => res.attrs(toAttrs(await fsp.lstat(resolve(p)))));

  const applyAttrs = async (target: { path: string } | { fd: number }, attrs: Partial<Attributes>) => {
    const { size, uid, gid, mode, atime, mtime } = attrs;
    if ("path" in target) {
      if (typeof size === "number") await fsp.truncate(target.path, size);
      if (typeof uid === "number" && typeof gid === "number") await fsp.chown(target.path, uid, gid);
      if (typeof mode === "number") await fsp.chmod(target.path, mode & 0o7777);
      if (typeof atime === "number" && typeof mtime === "number") await fsp.utimes(target.path, atime, mtime);
      return;
    }
    const { fd } = target;
    if (typeof size === "number") await fdOp((cb) => fs.ftruncate(fd, size, cb));
    if (typeof uid === "number" && typeof gid === "number") await fdOp((cb) => fs.fchown(fd, uid, gid, cb));
    if (typeof mode === "number") await fdOp((cb) => fs.fchmod(fd, mode & 0o7777, cb));
    if (typeof atime === "number" && typeof mtime === "number") await fdOp((cb) => fs.futimes(fd, atime, mtime, cb));
  };
  on("SETSTAT", true, async (res, p: string, attrs: Partial<Attributes>) => {
    await applyAttrs({ path: resolve(p) }, attrs);
    res.status(FX.OK);
  });
  on("FSETSTAT", true, async (res, handle: Buffer, attrs: Partial<Attributes>) => {
    const [, h] = lookup(handle);
    if (!h) return invalidHandle(res);
    await applyAttrs(h.kind === "file" ? { fd: h.fd } : { path: h.path }, attrs);
    res.status(FX.OK);
  });

  on("OPENDIR", true, async (res, p: string) => {
    const dir = resolve(p);
    if (!(await fsp.stat(dir)).isDirectory()) return res.status(FX.FAILURE, "Not a directory");
    res.handle(newHandle({ kind: "dir", path: dir, names: undefined }));
  });

  on("READDIR", true, async (res, handle: Buffer) => {
    const [, h] = lookup(handle);
    if (h?.kind !== "dir") return invalidHandle(res);
    opts.touch();
    h.names ??= [".", "..", ...(await fsp.readdir(h.path))];
    const now = Date.now();
    while (h.names.length > 0) {
      const batch = h.names.splice(0, READDIR_BATCH);
      const entries = await Promise.all(
        batch.map(async (filename) => {
          try {
            const st = await fsp.lstat(path.join(h.path, filename));
            return { filename, longname: longName(filename, st, now), attrs: toAttrs(st) };
          } catch {
            return undefined; // removed while listing
          }
        }),
      );
      const found = entries.filter((e) => e !== undefined);
      if (found.length > 0) return res.name(found);
    }
    res.status(FX.EOF);
  });

  on("REALPATH", true, async (res, p: string) => {
    const full = resolve(p);
    let real: string;
    try {
      real = await fsp.realpath(full);
    } catch (err) {
      // Like sftp-server: the last component may not exist yet (the target of a put).
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      real = path.join(await fsp.realpath(path.dirname(full)), path.basename(full));
    }
    res.name([{ filename: real, longname: real, attrs: {} as Attributes }]);
  });

  on("MKDIR", true, async (res, p: string, attrs: Partial<Attributes>) => {
    await fsp.mkdir(resolve(p), { mode: typeof attrs.mode === "number" ? attrs.mode & 0o7777 : 0o777 });
    res.status(FX.OK);
  });
  on("RMDIR", true, async (res, p: string) => {
    await fsp.rmdir(resolve(p));
    res.status(FX.OK);
  });
  on("REMOVE", true, async (res, p: string) => {
    await fsp.unlink(resolve(p));
    res.status(FX.OK);
  });

  on("RENAME", true, async (res, from: string, to: string) => {
    // SFTP v3 RENAME must not replace an existing file (sftp-server refuses too); clients that want
    // POSIX semantics use posix-rename@openssh.com, which this server does not advertise.
    const target = resolve(to);
    const exists = await fsp.lstat(target).then(
      () => true,
      () => false,
    );
    if (exists) return res.status(FX.FAILURE, "Target exists");
    await fsp.rename(resolve(from), target);
    res.status(FX.OK);
  });

  on("READLINK", true, async (res, p: string) => {
    const target = await fsp.readlink(resolve(p));
    res.name([{ filename: target, longname: target, attrs: {} as Attributes }]);
  });

  // ssh2 already swapped OpenSSH's reversed SYMLINK arguments back into (linkPath, targetPath).
  on("SYMLINK", true, async (res, linkPath: string, targetPath: string) => {
    await fsp.symlink(targetPath, resolve(linkPath));
    res.status(FX.OK);
  });

  return {
    close: () => {
      closed = true;
      slots.length = 0;
      for (const h of handles.values()) {
        if (h.kind === "file") fs.close(h.fd, () => {});
      }
      handles.clear();
    },
  };
}
