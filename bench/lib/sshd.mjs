// A private OpenSSH sshd on 127.0.0.1 as the baseline for SSH benches: its own host key, one generated
// client key, no PAM, a pid file in the temp dir, running as the current user (root here). Started with
// `-D -e` so it stays our child and dies with the bench; stopped with SIGTERM.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort, now, sleep } from "./outpost.mjs";

const SSHD = "/usr/sbin/sshd";
const SFTP_SERVER = "/usr/lib/openssh/sftp-server";

function keygen(file) {
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "outpost-bench", "-f", file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

/** Resolves once something on the port answers with an SSH banner. */
async function waitBanner(port, timeoutMs) {
  const t0 = now();
  for (;;) {
    const banner = await new Promise((resolve) => {
      const sock = net.connect(port, "127.0.0.1");
      let data = "";
      sock.setTimeout(1000, () => (sock.destroy(), resolve(undefined)));
      sock.on("data", (d) => {
        data += d;
        if (data.includes("\n")) (sock.destroy(), resolve(data.trim()));
      });
      sock.on("error", () => resolve(undefined));
    });
    if (banner?.startsWith("SSH-")) return banner;
    if (now() - t0 > timeoutMs) throw new Error(`sshd did not answer on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * Starts sshd in `dir` (created, 0700). Returns the client config to pass with `ssh -F` and the host
 * aliases in it: `direct` (the client's default cipher negotiation) and `direct-aes` (forced to
 * aes128-gcm@openssh.com, the only cipher the Outpost agent offers).
 */
export async function startSshd(dir) {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing (apt-get install openssh-server)`);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  // sshd refuses to start without its privilege separation directory (the system service creates it).
  let createdPrivsepDir = false;
  if (process.getuid?.() === 0 && !existsSync("/run/sshd")) {
    mkdirSync("/run/sshd", { mode: 0o755 });
    createdPrivsepDir = true;
  }
  const hostKey = path.join(dir, "host_ed25519");
  const clientKey = path.join(dir, "client_ed25519");
  keygen(hostKey);
  keygen(clientKey);
  await fs.copyFile(`${clientKey}.pub`, path.join(dir, "authorized_keys"));
  const port = await freePort();
  const user = os.userInfo().username;
  const sshdConfig = path.join(dir, "sshd_config");
  await fs.writeFile(
    sshdConfig,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "PermitRootLogin prohibit-password",
      // The key and authorized_keys live under /tmp, outside the user's home: skip the ownership walk.
      "StrictModes no",
      "UseDNS no",
      "PrintMotd no",
      "PrintLastLog no",
      `Subsystem sftp ${SFTP_SERVER}`,
      // bash reads ~/.bashrc for `ssh host cmd` when it sees SSH_CLIENT at shell level 1. The workspace
      // of the process driver has a HOME of its own (no rc files), while the account's real ~/.bashrc
      // may do anything (root's here runs `pyenv init`: ~150 ms per session). SHLVL=1 makes the
      // baseline's bash skip it too, so both paths time the same shell start and the SSH work differs.
      "SetEnv SHLVL=1",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  const test = spawnSync(SSHD, ["-t", "-f", sshdConfig], { encoding: "utf8" });
  if (test.status !== 0) throw new Error(`sshd -t rejected the config: ${test.stderr}`);
  const child = spawn(SSHD, ["-D", "-e", "-f", sshdConfig], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((r) => child.once("exit", (code, signal) => r(code ?? signal)));
  const banner = await Promise.race([waitBanner(port, 10_000), exited.then((c) => Promise.reject(new Error(`sshd exited (${c}): ${stderr}`)))]);

  const host = (alias, extra = []) => [
    `Host ${alias}`,
    "  HostName 127.0.0.1",
    `  Port ${port}`,
    `  User ${user}`,
    `  IdentityFile ${clientKey}`,
    "  IdentitiesOnly yes",
    "  StrictHostKeyChecking no",
    "  UserKnownHostsFile /dev/null",
    "  LogLevel ERROR",
    "  BatchMode yes",
    ...extra,
  ];
  const clientConfig = path.join(dir, "ssh_config");
  await fs.writeFile(clientConfig, [...host("direct"), ...host("direct-aes", ["  Ciphers aes128-gcm@openssh.com"]), ""].join("\n"));
  return {
    port,
    banner,
    pid: child.pid,
    clientConfig,
    createdPrivsepDir,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      let timer;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]).finally(() => clearTimeout(timer));
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
