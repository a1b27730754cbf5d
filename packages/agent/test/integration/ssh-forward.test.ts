// Forwarding through the agent's SSH server: ssh -W / -L (direct-tcpip) to a TCP echo server, refused
// targets with the reason, ssh -R (tcpip-forward, fixed and allocated ports), ssh -A agent forwarding
// with a real ssh-agent, X11 refused.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type ssh2 from "ssh2";
import { type Harness, run, ssh, ssh2Client, startHarness, waitFor } from "./ssh-harness.js";

let h: Harness;
let echo: net.Server;
let echoPort: number;
beforeAll(async () => {
  h = await startHarness();
  echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  echoPort = (echo.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await h?.close();
  echo?.close();
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Connects to 127.0.0.1:port, sends `text`, resolves with what came back before the peer ended. */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let got = "";
    socket.on("data", (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) socket.end();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
    socket.write(text);
  });
}

describe("direct-tcpip (ssh -W, ssh -L)", () => {
  it("ssh -W relays stdin/stdout to a TCP service inside the workspace", async () => {
    const r = await ssh(h, undefined, { options: ["-W", `127.0.0.1:${echoPort}`], input: "ping through -W\n" });
    expect(r.stdout).toBe("ping through -W\n");
  });

  it("a refused target rejects the channel with the connect error as the reason", async () => {
    const port = await freePort();
    const r = await ssh(h, undefined, { options: ["-W", `127.0.0.1:${port}`] });
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/stdio forwarding failed/);
    const client = await ssh2Client(h);
    try {
      const err = await new Promise<(Error & { reason?: number }) | undefined>((resolve) => client.forwardOut("127.0.0.1", 0, "127.0.0.1", port, (e) => resolve(e)));
      expect(err?.message).toBe(`(SSH) Channel open failure: 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
      expect(err?.reason).toBe(2); // SSH_OPEN_CONNECT_FAILED
    } finally {
      client.end();
    }
  });

  it("ssh -L forwards local connections", async () => {
    const local = await freePort();
    const child = spawn("ssh", [...h.sshOptions, "-N", "-o", "ExitOnForwardFailure=yes", "-L", `${local}:127.0.0.1:${echoPort}`, "127.0.0.1"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: h.clientHome },
      stdio: "ignore",
    });
    try {
      await waitFor(
        () =>
          new Promise<boolean>((resolve) => {
            const s = net.connect(local, "127.0.0.1", () => (s.destroy(), resolve(true)));
            s.on("error", () => resolve(false));
          }),
        10_000,
        "the -L listener",
      );
      expect(await exchange(local, "hello via -L")).toBe("hello via -L");
      expect(await exchange(local, "x".repeat(300_000))).toHaveLength(300_000);
    } finally {
      child.kill();
    }
  });
});

describe("tcpip-forward (ssh -R)", () => {
  it("listens inside the workspace and forwards connections back to the client's side", async () => {
    const remote = await freePort();
    // The remote command talks to the forwarded port with bash's /dev/tcp.
    const r = await ssh(h, `exec 3<>/dev/tcp/127.0.0.1/${remote}; echo "hello via -R" >&3; head -n1 <&3`, {
      options: ["-o", "ExitOnForwardFailure=yes", "-R", `${remote}:127.0.0.1:${echoPort}`],
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello via -R\n");
  });

  it("port 0 gets an allocated port; cancel closes the listener; the connection's end closes the rest", async () => {
    const client = await ssh2Client(h);
    try {
      const port = await new Promise<number>((resolve, reject) => client.forwardIn("127.0.0.1", 0, (err, p) => (err ? reject(err) : resolve(p))));
      expect(port).toBeGreaterThan(0);
      client.on("tcp connection", (_info, accept) => {
        const ch = accept();
        ch.pipe(ch); // echo on the client side
      });
      expect(await exchange(port, "allocated")).toBe("allocated");
      await new Promise<void>((resolve, reject) => client.unforwardIn("127.0.0.1", port, (err) => (err ? reject(err) : resolve())));
      await expect(exchange(port, "x")).rejects.toThrow(/ECONNREFUSED/);

      const second = await new Promise<number>((resolve, reject) => client.forwardIn("127.0.0.1", 0, (err, p) => (err ? reject(err) : resolve(p))));
      client.end();
      await waitFor(() => h.server.connections === 0, 5000, "the connection to end");
      await expect(exchange(second, "x")).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      client.end();
    }
  });
});

describe("agent forwarding (ssh -A)", () => {
  it("lists the client's keys through SSH_AUTH_SOCK in a private directory, removed afterwards", async () => {
    const sock = path.join(h.clientHome, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      await waitFor(() => existsSync(sock), 5000, "ssh-agent's socket");
      const key = path.join(h.clientHome, "id_test");
      expect((await run(h, "ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "forwarded-test-key", "-f", key])).code).toBe(0);
      expect((await run(h, "ssh-add", [key], { env: { SSH_AUTH_SOCK: sock } })).code).toBe(0);

      const r = await ssh(h, 'ssh-add -l; echo "$SSH_AUTH_SOCK"; stat -c %a "$(dirname "$SSH_AUTH_SOCK")"', {
        options: ["-A"],
        env: { SSH_AUTH_SOCK: sock },
      });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const [keys, remoteSock, mode] = r.stdout.trim().split("\n");
      expect(keys).toMatch(/^256 SHA256:\S+ forwarded-test-key \(ED25519\)$/);
      expect(remoteSock).not.toBe(sock);
      expect(mode).toBe("700");
      await waitFor(() => !existsSync(remoteSock!), 5000, "the forwarding socket to be removed");

      const without = await ssh(h, 'echo "[$SSH_AUTH_SOCK]"', { env: { SSH_AUTH_SOCK: sock } });
      expect(without.stdout).toBe("[]\n");
    } finally {
      agent.kill();
    }
  });
});

describe("x11", () => {
  it("is refused cleanly", async () => {
    const client = await ssh2Client(h);
    try {
      const err = await new Promise<Error | undefined>((resolve) => client.exec("true", { x11: true }, (e) => resolve(e)));
      expect(err?.message).toMatch(/X11/i);
      // The connection still works.
      const out = await new Promise<string>((resolve, reject) =>
        client.exec("echo still-ok", (e, ch: ssh2.ClientChannel) => {
          if (e) return reject(e);
          let s = "";
          ch.on("data", (d: Buffer) => (s += d.toString()));
          ch.on("close", () => resolve(s));
        }),
      );
      expect(out).toBe("still-ok\n");
    } finally {
      client.end();
    }
  });
});
