// File transfer through the agent's SSH server with the real OpenSSH tools: scp (SFTP mode, the
// OpenSSH 9 default, and legacy `-O`), sftp batches, rsync over ssh, and 100 MB both ways with sha256,
// against the system sftp-server and the built-in SFTP server.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, run, scpOptions, ssh, sshCommandLine, startHarness } from "./ssh-harness.js";

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (d) => hash.update(d))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject);
  });
}

let local: string;
beforeAll(() => {
  local = mkdtempSync(path.join(os.tmpdir(), "outpost-ssh-local-"));
});
afterAll(() => {
  rmSync(local, { recursive: true, force: true });
});

const modes = [
  { name: "system sftp-server", sftpServerPath: undefined },
  { name: "built-in SFTP server", sftpServerPath: null },
] as const;

describe.each(modes)("with the $name", ({ sftpServerPath }) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sftpServerPath });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("scp (SFTP protocol) copies both ways, relative to the session directory, keeping modes with -p", async () => {
    const data = randomBytes(300_000);
    const src = path.join(local, `up-${sftpServerPath}.bin`);
    writeFileSync(src, data, { mode: 0o640 });
    const up = await run(h, "scp", [...scpOptions(h), "-p", src, "127.0.0.1:copied.bin"]);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    expect(readFileSync(path.join(h.dir, "copied.bin")).equals(data)).toBe(true);
    expect(lstatSync(path.join(h.dir, "copied.bin")).mode & 0o777).toBe(0o640);

    const back = path.join(local, `down-${sftpServerPath}.bin`);
    const down = await run(h, "scp", [...scpOptions(h), `127.0.0.1:${path.join(h.dir, "copied.bin")}`, back]);
    expect(down.code).toBe(0);
    expect(readFileSync(back).equals(data)).toBe(true);

    const missing = await run(h, "scp", [...scpOptions(h), "127.0.0.1:does-not-exist", back]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No such file/);
  });

  it("sftp -b: mkdir, put, ls, get, rename, symlink, rm, rmdir", async () => {
    writeFileSync(path.join(local, "hello.txt"), "hello sftp\n");
    const batch = path.join(local, "batch");
    writeFileSync(
      batch,
      [
        "mkdir newdir",
        "cd newdir",
        "put hello.txt",
        "ls",
        "ls -l",
        "get hello.txt fetched.txt",
        "rename hello.txt renamed.txt",
        "ln -s renamed.txt link.txt",
        "ls",
        "",
      ].join("\n"),
    );
    const r = await run(h, "sftp", [...scpOptions(h), "-b", batch, "127.0.0.1"], { cwd: local });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // sftp-server leaves the link count as "?"; both give mode, owner, size, date, name.
    expect(r.stdout).toMatch(/^-rw-\S+\s+\S+\s+\S+\s+\S+\s+11 \w{3} [ \d]\d \d\d:\d\d hello\.txt$/m);
    expect(readFileSync(path.join(local, "fetched.txt"), "utf8")).toBe("hello sftp\n");
    expect(readFileSync(path.join(h.dir, "newdir/renamed.txt"), "utf8")).toBe("hello sftp\n");
    expect(readlinkSync(path.join(h.dir, "newdir/link.txt"))).toBe("renamed.txt");

    writeFileSync(batch, ["cd newdir", "rm renamed.txt", "rm link.txt", "cd ..", "rmdir newdir", "ls", ""].join("\n"));
    const r2 = await run(h, "sftp", [...scpOptions(h), "-b", batch, "127.0.0.1"], { cwd: local });
    expect(r2.code).toBe(0);
    expect(existsSync(path.join(h.dir, "newdir"))).toBe(false);

    // A failing command fails the batch with the server's status.
    writeFileSync(batch, "rmdir no-such-dir\n");
    const r3 = await run(h, "sftp", [...scpOptions(h), "-b", batch, "127.0.0.1"], { cwd: local });
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/No such file|not found|Failure/i);
  });

  it("moves 100 MB both ways intact (scp) and reports the rate", async () => {
    const big = path.join(local, "big.bin");
    if (!existsSync(big)) await run(h, "sh", ["-c", `head -c 100M /dev/urandom > ${big}`]);
    const expected = await sha256File(big);
    let t = performance.now();
    const up = await run(h, "scp", [...scpOptions(h), big, "127.0.0.1:big.bin"], { timeoutMs: 60_000 });
    const upMs = performance.now() - t;
    expect(up.code).toBe(0);
    expect(await sha256File(path.join(h.dir, "big.bin"))).toBe(expected);
    const back = path.join(local, "big-back.bin");
    t = performance.now();
    const down = await run(h, "scp", [...scpOptions(h), "127.0.0.1:big.bin", back], { timeoutMs: 60_000 });
    const downMs = performance.now() - t;
    expect(down.code).toBe(0);
    expect(await sha256File(back)).toBe(expected);
    rmSync(back);
    console.info(`scp 100 MiB via ${sftpServerPath === null ? "built-in SFTP" : "sftp-server"}: up ${Math.round(upMs)} ms, down ${Math.round(downMs)} ms`);
  }, 60_000);
});

describe("exec-based transfers (system sftp-server harness)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("scp -O (legacy protocol through exec of scp) copies both ways", async () => {
    const data = randomBytes(200_000);
    const src = path.join(local, "legacy.bin");
    writeFileSync(src, data);
    const up = await run(h, "scp", [...scpOptions(h), "-O", src, "127.0.0.1:legacy.bin"]);
    expect(up.code).toBe(0);
    expect(readFileSync(path.join(h.dir, "legacy.bin")).equals(data)).toBe(true);
    const back = path.join(local, "legacy-back.bin");
    const down = await run(h, "scp", [...scpOptions(h), "-O", "127.0.0.1:legacy.bin", back]);
    expect(down.code).toBe(0);
    expect(readFileSync(back).equals(data)).toBe(true);
  });

  it("rsync -e ssh copies a tree both ways", async () => {
    const tree = path.join(local, "tree");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(path.join(tree, "sub"), { recursive: true });
    writeFileSync(path.join(tree, "a.txt"), "a\n");
    writeFileSync(path.join(tree, "sub/b.bin"), randomBytes(50_000));
    const up = await run(h, "rsync", ["-a", "-e", sshCommandLine(h), `${tree}/`, "127.0.0.1:synced/"]);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    expect(readFileSync(path.join(h.dir, "synced/a.txt"), "utf8")).toBe("a\n");
    expect(readFileSync(path.join(h.dir, "synced/sub/b.bin")).equals(readFileSync(path.join(tree, "sub/b.bin")))).toBe(true);

    writeFileSync(path.join(h.dir, "synced/remote-only.txt"), "r\n");
    const back = path.join(local, "tree-back");
    const down = await run(h, "rsync", ["-a", "-e", sshCommandLine(h), "127.0.0.1:synced/", `${back}/`]);
    expect(down.code).toBe(0);
    expect(readFileSync(path.join(back, "remote-only.txt"), "utf8")).toBe("r\n");
    expect(readFileSync(path.join(back, "sub/b.bin")).equals(readFileSync(path.join(tree, "sub/b.bin")))).toBe(true);
  });

  it("streams 100 MB both ways through exec (cat) intact and reports the rate", async () => {
    const big = path.join(local, "big-exec.bin");
    await run(h, "sh", ["-c", `head -c 100M /dev/urandom > ${big}`]);
    const expected = await sha256File(big);
    let t = performance.now();
    const up = await ssh(h, "cat > big-exec.bin", { stdinFile: big, timeoutMs: 60_000 });
    const upMs = performance.now() - t;
    expect(up.code).toBe(0);
    expect(await sha256File(path.join(h.dir, "big-exec.bin"))).toBe(expected);
    const back = path.join(local, "big-exec-back.bin");
    t = performance.now();
    const down = await ssh(h, "cat big-exec.bin", { stdoutFile: back, timeoutMs: 60_000 });
    const downMs = performance.now() - t;
    expect(down.code).toBe(0);
    expect(await sha256File(back)).toBe(expected);
    console.info(`ssh cat 100 MiB: up ${Math.round(upMs)} ms, down ${Math.round(downMs)} ms`);
  }, 60_000);
});
