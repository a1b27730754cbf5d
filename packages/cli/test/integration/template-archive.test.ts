import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packTar, readTar } from "@outpost/sdk/tar";
import { extractArchive as extractTar } from "@outpost/provisioner/archive";
import { packTemplateDir } from "../../src/template-archive.js";
import { CliError } from "../../src/context.js";
import { TAR_ENTRIES } from "../../../sdk/test/helpers/tar-entries.js";

const tmpDirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "outpost-tar-test-"));
  tmpDirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of tmpDirs) await fs.rm(d, { recursive: true, force: true });
});

const text = (s: string) => new TextEncoder().encode(s);
const ENTRIES = TAR_ENTRIES;

describe("tar archives on disk", () => {
  it("writes archives GNU tar extracts, and reads archives GNU tar writes (gnu and pax formats)", async () => {
    const d = await tmp();
    await fs.writeFile(path.join(d, "ours.tar"), packTar(ENTRIES));
    await fs.mkdir(path.join(d, "out"));
    execFileSync("tar", ["-xf", path.join(d, "ours.tar"), "-C", path.join(d, "out")]);
    for (const e of ENTRIES) {
      const file = path.join(d, "out", e.path);
      expect(Buffer.from(await fs.readFile(file)).equals(Buffer.from(e.data))).toBe(true);
      expect((await fs.stat(file)).mode & 0o777).toBe(e.mode);
    }
    for (const format of ["gnu", "pax"]) {
      const archive = path.join(d, `theirs-${format}.tar`);
      execFileSync("tar", [`--format=${format}`, "-cf", archive, "-C", path.join(d, "out"), "."]);
      const read = readTar(new Uint8Array(await fs.readFile(archive)));
      const byPath = new Map(read.map((e) => [e.path.replace(/^\.\//, ""), e]));
      for (const e of ENTRIES) {
        const got = byPath.get(e.path);
        expect(got, `${format}: ${e.path}`).toBeDefined();
        expect(Buffer.from(got!.data).equals(Buffer.from(e.data))).toBe(true);
      }
    }
  });

  it("extractTar writes nothing when an entry would escape the destination", async () => {
    const d = await tmp();
    const evil = packTar([{ path: "ok.txt", mode: 0o644, data: text("ok") }, { path: "../escaped.txt", mode: 0o644, data: text("no") }]);
    await expect(extractTar(evil, path.join(d, "dest"))).rejects.toThrow('unsafe path "../escaped.txt"');
    // Nothing is written when any entry is unsafe.
    expect(await fs.readdir(d)).toEqual([]);
  });
});

describe("packTemplateDir", () => {
  it("packs every regular file except .git and node_modules folders, at any depth", async () => {
    const d = await tmp();
    const files: Record<string, string> = {
      "template.ts": "export default 1;\n",
      "Dockerfile": "FROM outpost/base\n",
      "scripts/init.sh": "echo init\n",
      ".git/HEAD": "ref: refs/heads/main\n",
      "node_modules/x/index.js": "x\n",
      "sub/node_modules/y.js": "y\n",
      "sub/.git/config": "z\n",
      "sub/.gitignore": "kept\n",
    };
    for (const [p, t] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(d, p)), { recursive: true });
      await fs.writeFile(path.join(d, p), t);
    }
    await fs.symlink("/etc/passwd", path.join(d, "link"));
    const packed = await packTemplateDir(d);
    expect(packed.files).toEqual(["Dockerfile", "scripts/init.sh", "sub/.gitignore", "template.ts"]);
    expect(packed.skipped).toEqual(["link"]);
    const back = readTar(packed.bytes);
    expect(back.map((e) => [e.path, new TextDecoder().decode(e.data)])).toEqual(packed.files.map((f) => [f, files[f]]));
  });

  it("requires template.ts and an existing folder", async () => {
    const d = await tmp();
    await fs.writeFile(path.join(d, "main.ts"), "x");
    await expect(packTemplateDir(d)).rejects.toThrow(`no template.ts in ${d}`);
    await expect(packTemplateDir(path.join(d, "missing"))).rejects.toThrow("does not exist");
  });

  it("refuses a folder over the 10 MiB limit before reading it, naming the largest files", async () => {
    const d = await tmp();
    await fs.writeFile(path.join(d, "template.ts"), "export default 1;\n");
    const big = await fs.open(path.join(d, "dataset.bin"), "w");
    await big.truncate(11 * 1024 * 1024); // sparse: nothing is really written
    await big.close();
    const err = await packTemplateDir(d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toBe("the template archive would be 11.0 MiB, over the 10.0 MiB limit");
    expect((err as CliError).detail).toContain("  dataset.bin (11.0 MiB)");
    // Just under the limit is fine.
    await fs.truncate(path.join(d, "dataset.bin"), 10 * 1024 * 1024 - 4096);
    expect((await packTemplateDir(d)).bytes.length).toBeLessThanOrEqual(10 * 1024 * 1024);
  });
});
