// The SSH server behind the agent's tunnel: each connection is a mux stream adapted to a Duplex (no
// socket methods, no addresses), exactly what the agent's dispatcher hands to handle().
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, processesWith, ssh, startHarness, waitFor } from "./ssh-harness.js";

let h: Harness & { openMuxStreams(): number };
beforeAll(async () => {
  h = await startHarness({}, "mux");
});
afterAll(async () => {
  await h?.close();
});

it("runs commands, PTYs and exit codes over a mux stream", async () => {
  expect(await ssh(h, "echo ok")).toMatchObject({ code: 0, stdout: "ok\n" });
  expect((await ssh(h, "exit 42")).code).toBe(42);
  const pty = await ssh(h, "stty size", { options: ["-tt"] });
  expect(pty.stdout.trim()).toBe("24 80");
  const env = await ssh(h, 'echo "$SSH_CONNECTION"');
  expect(env.stdout).toBe("127.0.0.1 0 127.0.0.1 22\n"); // no addresses on a mux stream
});

it("moves 20 MB both ways intact, and every stream is closed afterwards", async () => {
  const data = randomBytes(20 << 20);
  const src = path.join(h.clientHome, "mux-src.bin");
  writeFileSync(src, data);
  const up = await ssh(h, "cat > mux.bin", { stdinFile: src, timeoutMs: 60_000 });
  expect(up.code).toBe(0);
  expect(createHash("sha256").update(readFileSync(path.join(h.dir, "mux.bin"))).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
  const back = path.join(h.clientHome, "mux-back.bin");
  const down = await ssh(h, "cat mux.bin", { stdoutFile: back, timeoutMs: 60_000 });
  expect(down.code).toBe(0);
  expect(readFileSync(back).equals(data)).toBe(true);
  await waitFor(() => h.server.connections === 0 && h.openMuxStreams() === 0, 5000, "connections and streams to close");
});

it("a client that goes away mid-session leaves no process and no stream", async () => {
  const { spawn } = await import("node:child_process");
  const child = spawn("ssh", [...h.sshOptions, "127.0.0.1", "echo started; exec -a outpost-mux-$((40000+2)) sleep 60"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: h.clientHome },
    stdio: ["ignore", "pipe", "ignore"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes("started"), 10_000, "the command");
  await waitFor(async () => (await processesWith("outpost-mux-40002")).length === 1, 5000, "the process");
  child.kill("SIGKILL");
  await waitFor(() => h.server.connections === 0 && h.openMuxStreams() === 0, 5000, "connections and streams to close");
  expect(await processesWith("outpost-mux-40002")).toEqual([]);
});
