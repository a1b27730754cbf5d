import os from "node:os";
import { fileURLToPath } from "node:url";
import { main } from "./main.js";
import { promptLine } from "./prompt.js";

// The CLI's one place that reads the process environment; every command gets it as an argument.
const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
process.exitCode = await main({
  argv: process.argv.slice(2),
  env: process.env,
  home: os.homedir(),
  self: { node: process.execPath, script: fileURLToPath(import.meta.url) },
  io: {
    out: (t) => void process.stdout.write(t + "\n"),
    err: (t) => void process.stderr.write(t + "\n"),
    interactive,
    prompt: (q, o) => promptLine(process.stdin, process.stdout, q, o),
  },
});
