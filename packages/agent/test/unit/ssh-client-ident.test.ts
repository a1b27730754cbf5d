import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { isOpenSshClient, readClientIdent } from "../../src/ssh/client-ident.js";

async function readAll(stream: PassThrough): Promise<string> {
  stream.end();
  let out = "";
  for await (const chunk of stream) out += (chunk as Buffer).toString("latin1");
  return out;
}

describe("readClientIdent", () => {
  it("returns the first line and leaves every byte in the stream", async () => {
    const s = new PassThrough();
    s.write("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x00\x01\x0cKEXINIT...");
    expect(await readClientIdent(s, 1000)).toBe("SSH-2.0-OpenSSH_9.2p1 Debian-2");
    expect(await readAll(s)).toBe("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x00\x01\x0cKEXINIT...");
  });

  it("assembles a line split across chunks", async () => {
    const s = new PassThrough();
    s.write("SSH-2.0-");
    setTimeout(() => s.write("paramiko_3.4\r\nrest"), 10);
    expect(await readClientIdent(s, 1000)).toBe("SSH-2.0-paramiko_3.4");
    expect(await readAll(s)).toBe("SSH-2.0-paramiko_3.4\r\nrest");
  });

  it("gives up on silence (a client waiting for the server to speak first) and on overlong lines", async () => {
    const quiet = new PassThrough();
    expect(await readClientIdent(quiet, 30)).toBeUndefined();
    const long = new PassThrough();
    long.write("x".repeat(300));
    expect(await readClientIdent(long, 1000)).toBeUndefined();
    expect(await readAll(long)).toHaveLength(300);
  });
});

describe("isOpenSshClient", () => {
  it("recognizes OpenSSH only", () => {
    expect(isOpenSshClient("SSH-2.0-OpenSSH_9.2p1 Debian-2")).toBe(true);
    expect(isOpenSshClient("SSH-2.0-OpenSSH_for_Windows_8.1")).toBe(true);
    expect(isOpenSshClient("SSH-2.0-paramiko_3.4")).toBe(false);
    expect(isOpenSshClient("SSH-2.0-ssh2js1.17.0")).toBe(false);
    expect(isOpenSshClient(undefined)).toBe(false);
  });
});
