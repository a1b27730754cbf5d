// What bench/ssh.mjs times, each through the real OpenSSH client with `ssh -F CONFIG HOST`: bulk
// transfers both ways, session setup, keystroke echo, and the cipher a connection negotiated.
// A target is { name, config, host, env }.
import { spawn } from "node:child_process";
import { now, sleep } from "./outpost.mjs";

const q = (s) => `'${s.replaceAll("'", `'\\''`)}'`;
const sshCmd = (t) => `ssh -F ${q(t.config)} ${q(t.host)}`;

/** Runs a shell command line; resolves with its exit code, stdout, stderr and wall time. */
export function sh(cmd, env, { timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn("sh", ["-c", cmd], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-8000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: now() - t0 });
    });
  });
}

async function must(cmd, env, what) {
  const r = await sh(cmd, env);
  if (r.code !== 0) throw new Error(`${what}: \`${cmd}\` exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

/** Byte-exact check both ways with a small transfer, before timing anything. */
export async function checkTransfer(t, mib = 8) {
  const bytes = String(mib * 1024 * 1024);
  const up = (await must(`head -c ${bytes} /dev/zero | ${sshCmd(t)} 'wc -c'`, t.env, `${t.name} upload check`)).stdout.trim();
  const down = (await must(`${sshCmd(t)} 'head -c ${bytes} /dev/zero' | wc -c`, t.env, `${t.name} download check`)).stdout.trim();
  if (up !== bytes || down !== bytes) throw new Error(`${t.name}: expected ${bytes} bytes both ways, got up ${up}, down ${down}`);
}

/** `dd | ssh host 'cat > /dev/null'` (up) or `ssh host 'dd ...' > /dev/null` (down): MiB/s and wall ms. */
export async function throughput(t, direction, mib) {
  const dd = `dd if=/dev/zero bs=1M count=${mib} status=none`;
  const cmd = direction === "up" ? `${dd} | ${sshCmd(t)} 'cat > /dev/null'` : `${sshCmd(t)} ${q(dd)} > /dev/null`;
  const r = await must(cmd, t.env, `${t.name} ${direction}`);
  return { mibPerS: mib / (r.ms / 1000), ms: r.ms };
}

/** `ssh host true`, spawn to exit (a fresh connection each time: no ControlMaster in either config). */
export async function setup(t) {
  const r = await must(`${sshCmd(t)} true`, t.env, `${t.name} setup`);
  return r.ms;
}

/** The cipher each direction negotiated, from `ssh -v`'s "kex: server->client cipher: X" lines. */
export async function negotiated(t) {
  const r = await must(`ssh -v -F ${q(t.config)} ${q(t.host)} true`, t.env, `${t.name} ssh -v`);
  const pick = (dir) => new RegExp(`kex: ${dir} cipher: (\\S+)`).exec(r.stderr)?.[1] ?? null;
  const ident = /Remote protocol version [^,]+, remote software version (\S+)/.exec(r.stderr)?.[1] ?? null;
  return { serverToClient: pick("server->client"), clientToServer: pick("client->server"), serverSoftware: ident };
}

/**
 * Keystroke echo round trip on a remote terminal: `ssh -tt host 'stty raw -echo; printf READY; exec cat'`
 * with stdin and stdout as pipes (so the local side adds no terminal of its own), one byte written to
 * ssh's stdin and timed until cat's echo of it comes back on ssh's stdout. `cat` in raw mode answers
 * each byte at once, like an editor or shell echoing a typed key; the path is the whole interactive
 * one: ssh client, (ProxyCommand, server relay, agent tunnel,) SSH server, PTY, process, and back.
 */
export async function keystrokes(t, { samples, warmup, gapMs = 5 }) {
  const child = spawn("ssh", ["-F", t.config, "-tt", "-e", "none", t.host, "stty raw -echo; printf READY; exec cat"], { env: t.env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  let buffered = "";
  let waiter;
  child.stdout.on("data", (d) => {
    const at = now();
    buffered += d.toString("latin1");
    if (waiter && buffered.includes(waiter.want)) {
      const w = waiter;
      waiter = undefined;
      buffered = "";
      w.resolve(at);
    }
  });
  const exited = new Promise((_, reject) => child.once("close", (code) => reject(new Error(`${t.name}: the terminal session ended (${code}): ${stderr.trim()}`))));
  exited.catch(() => undefined);
  const waitFor = (want, ms) => {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${t.name}: no ${JSON.stringify(want)} within ${ms} ms (got ${JSON.stringify(buffered.slice(-80))}; ${stderr.trim()})`)), ms);
    });
    const echoed = new Promise((resolve) => {
      if (buffered.includes(want)) {
        buffered = "";
        return resolve(now());
      }
      waiter = { want, resolve };
    });
    return Promise.race([echoed, exited, late]).finally(() => clearTimeout(timer));
  };
  try {
    await waitFor("READY", 30_000);
    const rtts = [];
    for (let i = 0; i < warmup + samples; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      const t0 = now();
      child.stdin.write(ch);
      const at = await waitFor(ch, 10_000);
      if (i >= warmup) rtts.push(at - t0);
      await sleep(gapMs);
    }
    return rtts;
  } finally {
    child.kill("SIGTERM");
  }
}

/**
 * Where a relayed connection's setup goes, part 1: `outpost ssh --stdio HOST` alone, given an OpenSSH
 * identification line at once as ssh does, spawn until the agent's SSH banner arrives on its stdout (Node start, the CLI's entry chunk, the session file, the
 * relay WebSocket's upgrade with the server's checks, the stream opened on the agent, ssh2's banner).
 */
export async function proxyToBanner(cliScript, host, env) {
  const t0 = now();
  const child = spawn(process.execPath, [cliScript, "ssh", "--stdio", host], { env, stdio: ["pipe", "pipe", "pipe"] });
  // OpenSSH sends its identification first, without waiting (the agent reads it to pick its cipher offer).
  child.stdin.write("SSH-2.0-OpenSSH_9.2p1 bench\r\n");
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  try {
    return await new Promise((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        if (out.includes("SSH-2.0")) resolve(now() - t0);
      });
      child.on("close", (code) => reject(new Error(`outpost ssh --stdio exited ${code} before the banner: ${stderr}`)));
    });
  } finally {
    child.kill("SIGTERM");
  }
}

/** `node ARGS` spawn to exit (the floor under any Node ProxyCommand). */
export function nodeRun(args) {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(process.execPath, args, { stdio: "ignore" });
    child.on("error", reject);
    child.on("close", () => resolve(now() - t0));
  });
}
