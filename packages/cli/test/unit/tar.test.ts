// The sdk's ustar writer and reader (packages/sdk/src/tar.ts), used by `templates push` and the provisioner.
import { describe, expect, it } from "vitest";
import { packTar, readTar, safeRelativePath } from "@outpost/sdk/tar";
import { TAR_ENTRIES } from "../../../sdk/test/helpers/tar-entries.js";

const ENTRIES = TAR_ENTRIES;

describe("tar", () => {
  it("round-trips regular files, long paths (ustar prefix and pax), UTF-8 names and modes", () => {
    const bytes = packTar(ENTRIES);
    expect(bytes.length % 512).toBe(0);
    const back = readTar(bytes);
    expect(back.map((e) => e.path)).toEqual(ENTRIES.map((e) => e.path));
    back.forEach((e, i) => {
      expect(Buffer.from(e.data).equals(Buffer.from(ENTRIES[i]!.data))).toBe(true);
      expect(e.mode).toBe(ENTRIES[i]!.mode);
    });
  });

  it("is deterministic: the same files give the same bytes", () => {
    expect(Buffer.from(packTar(ENTRIES)).equals(Buffer.from(packTar(ENTRIES.map((e) => ({ ...e })))))).toBe(true);
  });

  it("rejects a corrupted header and paths that would escape the destination", () => {
    const bytes = packTar([ENTRIES[0]!]);
    bytes[10] = bytes[10]! ^ 0xff;
    expect(() => readTar(bytes)).toThrow("bad header checksum");
    expect(() => readTar(packTar([ENTRIES[3]!]).subarray(0, 600))).toThrow("truncated archive");
    expect(safeRelativePath("../etc/passwd")).toBeUndefined();
    expect(safeRelativePath("/etc/passwd")).toBeUndefined();
    expect(safeRelativePath("a/../../b")).toBeUndefined();
    expect(safeRelativePath("./a//b")).toBe("a/b");
  });
});
