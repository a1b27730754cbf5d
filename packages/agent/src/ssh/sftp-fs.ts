// Conversions between SFTP v3 (what OpenSSH's sftp/scp speak) and Node's fs for the built-in SFTP
// server: open flags, attributes, `ls -l` style long names, errno -> status codes.
import { constants as fsConstants, type Stats } from "node:fs";
import type { Attributes } from "ssh2";

/** SSH_FXF_* open flags (draft-ietf-secsh-filexfer-02 6.3). */
const FXF = { READ: 0x1, WRITE: 0x2, APPEND: 0x4, CREAT: 0x8, TRUNC: 0x10, EXCL: 0x20 } as const;

/** SSH_FX_* status codes. */
export const FX = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  OP_UNSUPPORTED: 8,
} as const;

export function openFlags(pflags: number): number {
  const read = (pflags & FXF.READ) !== 0;
  const write = (pflags & (FXF.WRITE | FXF.APPEND)) !== 0;
  let flags = read && write ? fsConstants.O_RDWR : write ? fsConstants.O_WRONLY : fsConstants.O_RDONLY;
  if (pflags & FXF.APPEND) flags |= fsConstants.O_APPEND;
  if (pflags & FXF.CREAT) flags |= fsConstants.O_CREAT;
  if (pflags & FXF.TRUNC) flags |= fsConstants.O_TRUNC;
  if (pflags & FXF.EXCL) flags |= fsConstants.O_EXCL;
  return flags;
}

export function toAttrs(st: Stats): Attributes {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function modeString(mode: number): string {
  const type = mode & fsConstants.S_IFMT;
  const kind =
    type === fsConstants.S_IFDIR ? "d"
    : type === fsConstants.S_IFLNK ? "l"
    : type === fsConstants.S_IFCHR ? "c"
    : type === fsConstants.S_IFBLK ? "b"
    : type === fsConstants.S_IFIFO ? "p"
    : type === fsConstants.S_IFSOCK ? "s"
    : "-";
  const rwx = "rwxrwxrwx";
  let perms = "";
  for (let i = 0; i < 9; i++) perms += mode & (0o400 >> i) ? rwx[i] : "-";
  return kind + perms;
}

/** The `ls -l` line OpenSSH's sftp prints for `ls -l` (numeric owner and group, like `ls -n`). */
export function longName(filename: string, st: Stats, now = Date.now()): string {
  const date = st.mtime;
  const recent = Math.abs(now - st.mtimeMs) < 182 * 24 * 3600 * 1000;
  const day = String(date.getDate()).padStart(2, " ");
  const when = recent
    ? `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`
    : ` ${date.getFullYear()}`;
  const owner = String(st.uid).padEnd(8);
  const group = String(st.gid).padEnd(8);
  return `${modeString(st.mode)} ${String(st.nlink).padStart(4)} ${owner} ${group} ${String(st.size).padStart(8)} ${MONTHS[date.getMonth()]} ${day} ${when} ${filename}`;
}

/** errno -> (status, message) the way sftp-server maps them. */
export function statusOf(err: unknown): { code: number; message: string } {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ENOENT":
    case "ENOTDIR":
    case "EBADF":
    case "ELOOP":
      return { code: FX.NO_SUCH_FILE, message: "No such file" };
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return { code: FX.PERMISSION_DENIED, message: "Permission denied" };
    case "ENOSYS":
    case "EOPNOTSUPP":
      return { code: FX.OP_UNSUPPORTED, message: "Operation unsupported" };
    default:
      return { code: FX.FAILURE, message: e?.message ?? "Failure" };
  }
}
