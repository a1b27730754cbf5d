import { constants, type Stats } from "node:fs";
import { describe, expect, it } from "vitest";
import { FX, longName, openFlags, statusOf, toAttrs } from "../../src/ssh/sftp-fs.js";

const err = (code: string, message = code) => Object.assign(new Error(message), { code });

describe("openFlags", () => {
  it("maps SSH_FXF_* bits to open(2) flags", () => {
    expect(openFlags(0x1)).toBe(constants.O_RDONLY);
    expect(openFlags(0x2 | 0x8 | 0x10)).toBe(constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC);
    expect(openFlags(0x1 | 0x2)).toBe(constants.O_RDWR);
    expect(openFlags(0x4 | 0x8)).toBe(constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT);
    expect(openFlags(0x2 | 0x8 | 0x20)).toBe(constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL);
  });
});

describe("statusOf", () => {
  it("maps errno codes like sftp-server", () => {
    expect(statusOf(err("ENOENT")).code).toBe(FX.NO_SUCH_FILE);
    expect(statusOf(err("EACCES")).code).toBe(FX.PERMISSION_DENIED);
    expect(statusOf(err("EPERM")).code).toBe(FX.PERMISSION_DENIED);
    expect(statusOf(err("ENOTEMPTY", "directory not empty"))).toEqual({ code: FX.FAILURE, message: "directory not empty" });
    expect(statusOf("weird").code).toBe(FX.FAILURE);
  });
});

function fakeStats(over: Partial<Stats>): Stats {
  const mtime = new Date(2024, 2, 5, 9, 7);
  return { mode: 0o100644, uid: 1000, gid: 100, size: 1234, nlink: 1, atimeMs: mtime.getTime(), mtimeMs: mtime.getTime(), mtime, ...over } as Stats;
}

describe("toAttrs / longName", () => {
  it("converts times to whole seconds", () => {
    expect(toAttrs(fakeStats({ atimeMs: 1_700_000_000_999, mtimeMs: 1_700_000_001_500 }))).toEqual({
      mode: 0o100644,
      uid: 1000,
      gid: 100,
      size: 1234,
      atime: 1_700_000_000,
      mtime: 1_700_000_001,
    });
  });

  it("formats an ls -l line: type and permission bits, recent files with the time, old ones with the year", () => {
    const st = fakeStats({});
    expect(longName("notes.txt", st, st.mtimeMs + 1000)).toBe("-rw-r--r--    1 1000     100          1234 Mar  5 09:07 notes.txt");
    expect(longName("old", st, st.mtimeMs + 400 * 24 * 3600 * 1000)).toMatch(/ Mar  5  2024 old$/);
    expect(longName("d", fakeStats({ mode: 0o40755 }), st.mtimeMs)).toMatch(/^drwxr-xr-x /);
    expect(longName("l", fakeStats({ mode: 0o120777 }), st.mtimeMs)).toMatch(/^lrwxrwxrwx /);
  });
});
