// The built-in SFTP server, for images without OpenSSH's sftp-server: SFTP v3 on ssh2's server-side
// parser, enough for OpenSSH's sftp (ls, get, put, mkdir, rm, rename, ln -s, chmod) and scp (which
// speaks SFTP by default since OpenSSH 9). Relative paths resolve against the session directory, as
// they do against sftp-server's working directory. READ and WRITE use raw fds with positioned I/O
// (clients keep many requests in flight and may answer out of order); handles are closed when the
// channel closes.
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Attributes, SFTPWrapper } from "ssh2";
import { FX, longName, openFlags, statusOf, toAttrs } from "./sftp-fs.js";

/** Largest READ answered (OpenSSH's sftp-server limit; clients ask for 32-256 KiB). */
const MAX_READ = 256 * 1024;
/** Names per READDIR answer. */
const READDIR_BATCH = 128;

type Handle =
  | { kind: "file"; fd: number }
  | { kind: "dir"; path: string; names: string[] | undefined };

export interface BuiltinSftpOptions {
  /** The directory relative paths resolve against; requests wait until it is known. */
  cwd: Promise<string>;
  touch: () => void;
  onError: (message: string, err: unknown) => void;
}

export function serveBuiltinSftp(sftp: SFTPWrapper, opts: BuiltinSftpOptions): { close(): void } {
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  let cwd = "/";
  let ready = false;
  const gate = opts.cwd.then((dir) => {
    cwd = dir;
    ready = true;
  });
  const resolve = (p: string) => path.resolve(cwd, p === "" ? "." : p);
  // Handlers registered through `on` run in arrival order, after the gate opened.
  const on = <A extends unknown[]>(event: string, handler: (...args: A) => void) => {
    sftp.on(event, (...args: A) => {
      if (ready) handler(...args);
      else void gate.then(() => handler(...args));
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
  const fail = (reqid: number, err: unknown) => {
    const { code, message } = statusOf(err);
    sftp.status(reqid, code, message);
  };
  const ok = (reqid: number) => sftp.status(reqid, FX.OK);
  const badHandle = (reqid: number) => sftp.status(reqid, FX.FAILURE, "Invalid handle");
  /** Runs an async operation and answers OK, or the error's status. */
  const run = (reqid: number, op: () => Promise<unknown>) => {
    op().then(
      () => ok(reqid),
      (err: unknown) => fail(reqid, err),
    );
  };

  on("OPEN", (reqid: number, filename: string, pflags: number, attrs: Partial<Attributes>) => {
    opts.touch();
    const mode = typeof attrs.mode === "number" ? attrs.mode & 0o7777 : 0o666;
    fs.open(resolve(filename), openFlags(pflags), mode, (err, fd) => {
      if (err) fail(reqid, err);
      else sftp.handle(reqid, newHandle({ kind: "file", fd }));
    });
  });

  on("READ", (reqid: number, handle: Buffer, offset: number, length: number) => {
    const [, h] = lookup(handle);
    if (h?.kind !== "file") return badHandle(reqid);
    opts.touch();
    const buf = Buffer.allocUnsafe(Math.min(length, MAX_READ));
    fs.read(h.fd, buf, 0, buf.length, offset, (err, n) => {
      if (err) fail(reqid, err);
      else if (n === 0) sftp.status(reqid, FX.EOF);
      else sftp.data(reqid, n === buf.length ? buf : buf.subarray(0, n));
    });
  });

  on("WRITE", (reqid: number, handle: Buffer, offset: number, data: Buffer) => {
    const [, h] = lookup(handle);
    if (h?.kind !== "file") return badHandle(reqid);
    opts.touch();
    const writeFrom = (done: number) => {
      fs.write(h.fd, data, done, data.length - done, offset + done, (err, n) => {
        if (err) fail(reqid, err);
        else if (done + n < data.length) writeFrom(done + n);
        else ok(reqid);
      });
    };
    writeFrom(0);
  });

  on("CLOSE", (reqid: number, handle: Buffer) => {
    const [id, h] = lookup(handle);
    if (!h) return badHandle(reqid);
    handles.delete(id);
    if (h.kind === "dir") return ok(reqid);
    fs.close(h.fd, (err) => (err ? fail(reqid, err) : ok(reqid)));
  });

  on("FSTAT", (reqid: number, handle: Buffer) => {
    const [, h] = lookup(handle);
    if (!h) return badHandle(reqid);
    const done = (err: Error | null, st: fs.Stats) => (err ? fail(reqid, err) : sftp.attrs(reqid, toAttrs(st)));
    if (h.kind === "file") fs.fstat(h.fd, done);
    else fs.stat(h.path, done);
  });

  const statWith = (statFn: typeof fs.stat) => (reqid: number, p: string) => {
    statFn(resolve(p), (err, st) => (err ? fail(reqid, err) : sftp.attrs(reqid, toAttrs(st))));
  };
  on("STAT", statWith(fs.stat));
  on("LSTAT", statWith(fs.lstat));

  const applyAttrs = async (target: { path: string } | { fd: number }, attrs: Partial<Attributes>) => {
    const byPath = "path" in target;
    if (typeof attrs.size === "number") {
      await (byPath ? fsp.truncate(target.path, attrs.size) : new Promise<void>((res, rej) => fs.ftruncate(target.fd, attrs.size, (e) => (e ? rej(e) : res()))));
    }
    if (typeof attrs.uid === "number" && typeof attrs.gid === "number") {
      const { uid, gid } = attrs;
      await (byPath ? fsp.chown(target.path, uid, gid) : new Promise<void>((res, rej) => fs.fchown(target.fd, uid, gid, (e) => (e ? rej(e) : res()))));
    }
    if (typeof attrs.mode === "number") {
      const mode = attrs.mode & 0o7777;
      await (byPath ? fsp.chmod(target.path, mode) : new Promise<void>((res, rej) => fs.fchmod(target.fd, mode, (e) => (e ? rej(e) : res()))));
    }
    if (typeof attrs.atime === "number" && typeof attrs.mtime === "number") {
      const { atime, mtime } = attrs;
      await (byPath ? fsp.utimes(target.path, atime, mtime) : new Promise<void>((res, rej) => fs.futimes(target.fd, atime, mtime, (e) => (e ? rej(e) : res()))));
    }
  };
  on("SETSTAT", (reqid: number, p: string, attrs: Partial<Attributes>) => run(reqid, () => applyAttrs({ path: resolve(p) }, attrs)));
  on("FSETSTAT", (reqid: number, handle: Buffer, attrs: Partial<Attributes>) => {
    const [, h] = lookup(handle);
    if (!h) return badHandle(reqid);
    run(reqid, () => applyAttrs(h.kind === "file" ? { fd: h.fd } : { path: h.path }, attrs));
  });

  on("OPENDIR", (reqid: number, p: string) => {
    const dir = resolve(p);
    fs.stat(dir, (err, st) => {
      if (err) return fail(reqid, err);
      if (!st.isDirectory()) return sftp.status(reqid, FX.FAILURE, "Not a directory");
      sftp.handle(reqid, newHandle({ kind: "dir", path: dir, names: undefined }));
    });
  });

  on("READDIR", (reqid: number, handle: Buffer) => {
    const [, h] = lookup(handle);
    if (h?.kind !== "dir") return badHandle(reqid);
    opts.touch();
    void (async () => {
      h.names ??= [".", "..", ...(await fsp.readdir(h.path))];
      const batch = h.names.splice(0, READDIR_BATCH);
      if (batch.length === 0) return sftp.status(reqid, FX.EOF);
      const now = Date.now();
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
      if (found.length === 0 && h.names.length === 0) return sftp.status(reqid, FX.EOF);
      sftp.name(reqid, found);
    })().catch((err: unknown) => fail(reqid, err));
  });

  on("REALPATH", (reqid: number, p: string) => {
    const full = resolve(p);
    void (async () => {
      let real: string;
      try {
        real = await fsp.realpath(full);
      } catch (err) {
        // Like sftp-server: the last component may not exist yet (the target of a put).
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        real = path.join(await fsp.realpath(path.dirname(full)), path.basename(full));
      }
      sftp.name(reqid, [{ filename: real, longname: real, attrs: {} as Attributes }]);
    })().catch((err: unknown) => fail(reqid, err));
  });

  on("MKDIR", (reqid: number, p: string, attrs: Partial<Attributes>) => {
    const mode = typeof attrs.mode === "number" ? attrs.mode & 0o7777 : 0o777;
    run(reqid, () => fsp.mkdir(resolve(p), { mode }));
  });
  on("RMDIR", (reqid: number, p: string) => run(reqid, () => fsp.rmdir(resolve(p))));
  on("REMOVE", (reqid: number, p: string) => run(reqid, () => fsp.unlink(resolve(p))));

  on("RENAME", (reqid: number, from: string, to: string) => {
    // SFTP v3 RENAME must not replace an existing file (sftp-server refuses too); clients that want
    // POSIX semantics use posix-rename@openssh.com, which this server does not advertise.
    const target = resolve(to);
    fsp.lstat(target).then(
      () => sftp.status(reqid, FX.FAILURE, "Target exists"),
      () => run(reqid, () => fsp.rename(resolve(from), target)),
    );
  });

  on("READLINK", (reqid: number, p: string) => {
    fs.readlink(resolve(p), (err, target) => {
      if (err) fail(reqid, err);
      else sftp.name(reqid, [{ filename: target, longname: target, attrs: {} as Attributes }]);
    });
  });

  // ssh2 already swapped OpenSSH's reversed SYMLINK arguments back into (linkPath, targetPath).
  on("SYMLINK", (reqid: number, linkPath: string, targetPath: string) => {
    run(reqid, () => fsp.symlink(targetPath, resolve(linkPath)));
  });

  return {
    close: () => {
      for (const h of handles.values()) {
        if (h.kind === "file") fs.close(h.fd, () => {});
      }
      handles.clear();
    },
  };
}
