import os from "node:os";
import { fileURLToPath } from "node:url";

// The CLI's one place that reads the process environment; every command gets it as an argument.
const argv = process.argv.slice(2);
const env = process.env;
const home = os.homedir();

if (argv[0] === "ssh" && argv[1] === "--stdio") {
  // Every SSH connection's ProxyCommand: skip the command table and everything it loads.
  const { sshStdio } = await import("./ssh-stdio.js");
  const code = await sshStdio({ env, home, stdin: process.stdin, stdout: process.stdout, err: (t) => void process.stderr.write(t + "\n") }, argv.slice(2));
  // stdin may still be open (OpenSSH keeps its end): do not wait for it.
  process.exit(code);
}

const [{ main }, { promptLine }] = await Promise.all([import("./main.js"), import("./prompt.js")]);
const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
process.exitCode = await main({
  argv,
  env,
  home,
  self: { node: process.execPath, script: fileURLToPath(import.meta.url) },
  io: {
    out: (t) => void process.stdout.write(t + "\n"),
    err: (t) => void process.stderr.write(t + "\n"),
    interactive,
    prompt: (q, o) => promptLine(process.stdin, process.stdout, q, o),
    ...(process.stderr.isTTY ? { status: (t: string) => void process.stderr.write(`\r\x1b[2K${t}`) } : {}),
  },
});
