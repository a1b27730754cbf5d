// The agent's SSH server with the real OpenSSH client: commands, exit codes and signals, stdin/stderr,
// environment, PTYs (size, resize via ssh2), the startup gate, cipher choice.
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type ssh2 from "ssh2";
import { type Harness, ssh, ssh2Client, startHarness, waitFor } from "./ssh-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("ssh2 native crypto", () => {
  it("is built (without it ssh2 silently uses a slow JavaScript fallback)", () => {
    const require = createRequire(import.meta.url);
    expect((require("ssh2/lib/protocol/crypto") as { bindingAvailable: boolean }).bindingAvailable).toBe(true);
  });
});

describe("exec", () => {
  it("runs a command and returns its output", async () => {
    const r = await ssh(h, "echo ok");
    expect(r).toMatchObject({ code: 0, stdout: "ok\n", stderr: "" });
  });

  it("reports exit codes and signals", async () => {
    expect((await ssh(h, "true")).code).toBe(0);
    expect((await ssh(h, "false")).code).toBe(1);
    expect((await ssh(h, "exit 42")).code).toBe(42);
    // Killed by a signal: exit-signal, which the OpenSSH client turns into 255.
    expect((await ssh(h, "kill -TERM $$")).code).toBe(255);
  });

  it("pipes stdin to the command until EOF, and keeps stderr separate", async () => {
    const r = await ssh(h, "cat; echo done", { input: "x\ny\n" });
    expect(r).toMatchObject({ code: 0, stdout: "x\ny\ndone\n" });
    const e = await ssh(h, "echo out; echo err >&2");
    expect(e).toMatchObject({ code: 0, stdout: "out\n", stderr: "err\n" });
  });

  it("runs in the agent directory with a login environment, the manifest env and the client's env", async () => {
    const r = await ssh(h, 'pwd; echo "$HOME|$USER|$LOGNAME|$SHELL|$LANG|$FOO|$OUTPOST_TEST_MARKER|${SSH_CONNECTION:+set}"', {
      options: ["-o", "SendEnv=LANG", "-o", "SetEnv=FOO=bar"],
      env: { LANG: "C.UTF-8" },
    });
    expect(r.code).toBe(0);
    const [pwd, vars] = r.stdout.trim().split("\n");
    expect(pwd).toBe(h.dir);
    const os = await import("node:os");
    const me = os.userInfo();
    expect(vars).toBe(`${me.homedir}|${me.username}|${me.username}|${me.shell}|C.UTF-8|bar|from-manifest|set`);
  });

  it("gives a shell request the user's login shell (profile files run, like sshd)", async () => {
    // `ssh -T host` with a script on stdin: the shell reads its commands from the channel.
    const r = await ssh(h, undefined, { options: ["-T"], input: 'echo "shell $0"; shopt -q login_shell && echo login-shell; exit 3\n' });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`shell ${(await import("node:os")).userInfo().shell}`);
    if (r.stdout.includes("bash")) expect(r.stdout).toContain("login-shell");
  });
});

describe("pty", () => {
  it("allocates a terminal with TERM from the client and the default size", async () => {
    const r = await ssh(h, "tty; stty size; echo $TERM", { options: ["-tt"], env: { TERM: "xterm-256color" } });
    expect(r.code).toBe(0);
    const lines = r.stdout.replace(/\r/g, "").trim().split("\n");
    expect(lines[0]).toMatch(/^\/dev\/pts\/\d+$/);
    expect(lines[1]).toBe("24 80");
    expect(lines[2]).toBe("xterm-256color");
  });

  it("follows window-change and delivers signals to the process group (ssh2 client)", async () => {
    const client = await ssh2Client(h);
    try {
      const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        client.exec(
          `trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done`,
          { pty: { rows: 30, cols: 100, term: "vt100" } },
          (err, ch) => (err ? reject(err) : resolve(ch)),
        ),
      );
      let out = "";
      channel.on("data", (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes("ready"), 5000, "ready");
      channel.setWindow(40, 120, 0, 0);
      await waitFor(() => out.includes("40 120"), 5000, "the new size");
      const exit = new Promise<unknown[]>((resolve) => channel.on("exit", (...args: unknown[]) => resolve(args)));
      channel.signal("TERM");
      const [code, signal] = await exit;
      // ssh2's client reports the exit-signal name with a SIG prefix.
      expect([code, signal]).toEqual([null, "SIGTERM"]);
    } finally {
      client.end();
    }
  });

  it("exec without a PTY: signal TERM ends the command with exit-signal", async () => {
    const client = await ssh2Client(h);
    try {
      const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        client.exec(`echo ready; exec sleep 30`, (err, ch) => (err ? reject(err) : resolve(ch))),
      );
      let out = "";
      channel.on("data", (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes("ready"), 5000, "ready");
      const exit = new Promise<unknown[]>((resolve) => channel.on("exit", (...args: unknown[]) => resolve(args)));
      channel.signal("INT");
      const [code, signal] = await exit;
      expect([code, signal]).toEqual([null, "SIGINT"]);
    } finally {
      client.end();
    }
  });
});

describe("connections", () => {
  it("counts one tracker session per connection, activity while data flows, and drains to zero", async () => {
    await waitFor(() => h.server.connections === 0, 5000, "earlier connections to end");
    const before = { ...h.tracker };
    expect(before.open).toBe(before.closed);
    await ssh(h, "head -c 100000 /dev/zero");
    await waitFor(() => h.server.connections === 0, 5000, "no connections");
    expect(h.tracker.open - before.open).toBe(1);
    expect(h.tracker.closed - before.closed).toBe(1);
    expect(h.tracker.activity).toBeGreaterThan(before.activity);
  });

  it("offers OpenSSH clients AES-GCM only, so they pick aes128-gcm", async () => {
    const r = await ssh(h, "true", { options: ["-v"] });
    expect(r.stderr).toMatch(/kex: server->client cipher: aes128-gcm@openssh.com/);
    // A client that insists on chacha20 is refused: the GCM-only offer is what makes OpenSSH pick GCM.
    const c = await ssh(h, "true", { options: ["-o", "Ciphers=chacha20-poly1305@openssh.com"] });
    expect(c.code).toBe(255);
  });

  it("other clients get the full cipher list", async () => {
    const client = new (await import("ssh2")).default.Client();
    await new Promise<void>((resolve, reject) => {
      client.once("ready", () => resolve());
      client.once("error", reject);
      client.connect({ host: "127.0.0.1", port: h.port, username: "x", algorithms: { cipher: ["chacha20-poly1305@openssh.com"] } });
    });
    client.end();
  });
});

describe("startup gate (beforeSession)", () => {
  it("holds sessions until it resolves; port forwards do not wait; a failed gate still lets users in", async () => {
    let open!: () => void;
    let fail!: (err: Error) => void;
    let gate = new Promise<void>((resolve, reject) => ((open = resolve), (fail = reject)));
    const gated = await startHarness({ beforeSession: () => gate });
    try {
      let finished = false;
      const pending = ssh(gated, "echo after-gate").then((r) => ((finished = true), r));
      // The connection is up and waiting (a forward works meanwhile); the command has not run.
      const net = await import("node:net");
      const echo = net.createServer((s) => s.pipe(s));
      await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
      const w = await ssh(gated, undefined, { options: ["-W", `127.0.0.1:${(echo.address() as import("node:net").AddressInfo).port}`], input: "fwd\n" });
      echo.close();
      expect(w.stdout).toBe("fwd\n");
      expect(finished).toBe(false);
      open();
      expect(await pending).toMatchObject({ code: 0, stdout: "after-gate\n" });

      gate = new Promise<void>((resolve, reject) => ((open = resolve), (fail = reject)));
      const second = ssh(gated, "echo despite-failure");
      await new Promise((r) => setTimeout(r, 100));
      fail(new Error("startup script timed out"));
      expect(await second).toMatchObject({ code: 0, stdout: "despite-failure\n" });
      expect(gated.logs.some((l) => l.level === "warn" && /startup gate failed/.test(l.msg))).toBe(true);
    } finally {
      await gated.close();
    }
  });
});
