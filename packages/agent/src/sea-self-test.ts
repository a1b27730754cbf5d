// `outpost-agent --self-test`: proves the single executable's native pieces work where it runs (the
// build's test runs it on the host and inside the Node-less outpost/base image):
//   - ssh2 loaded its native crypto addon (bindingAvailable) and an ssh2 client completes handshakes,
//     password auth and an exec round trip against an ssh2 Server on 127.0.0.1 with the ciphers
//     the addon implements (aes128-gcm, chacha20-poly1305): an addon built against the wrong OpenSSL
//     API loads fine but fails every connection, so loading alone proves nothing;
//   - node-pty spawns `/bin/sh -c 'echo pty-ok'` in a pseudo-terminal;
//   - bufferutil (WebSocket masking) loaded natively.
// Prints one line per check (`ssh-crypto-ok`, `bufferutil-ok`, `pty-ok`, `ssh-ok PORT`) and throws on
// the first failure.
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import * as pty from "node-pty";
import ssh2 from "ssh2";
import * as bufferutil from "bufferutil";
import { bindingAvailable } from "ssh2/lib/protocol/crypto.js";

type Print = (line: string) => void;

export async function selfTest(print: Print = (line) => process.stdout.write(line + "\n")): Promise<void> {
  const started = performance.now();
  if (!bindingAvailable) {
    throw new Error("ssh2's native crypto binding (sshcrypto.node) did not load: SSH would use the slow JS fallback");
  }
  print("ssh-crypto-ok");
  checkBufferutil();
  print("bufferutil-ok");
  print(await ptyEcho());
  const port = await sshRoundTrip();
  print(`ssh-ok ${port}`);
  print(`self-test passed in ${Math.round(performance.now() - started)} ms`);
}

function checkBufferutil(): void {
  const source = randomBytes(1000);
  const mask = randomBytes(4);
  const output = Buffer.alloc(source.length);
  bufferutil.mask(source, mask, output, 0, source.length);
  for (let i = 0; i < source.length; i++) {
    if (output[i] !== (source[i]! ^ mask[i & 3]!)) throw new Error("bufferutil.mask computed a wrong result");
  }
}

function ptyEcho(): Promise<string> {
  return new Promise((resolve, reject) => {
    const term = pty.spawn("/bin/sh", ["-c", "echo pty-ok"], {
      name: "xterm",
      cols: 80,
      rows: 24,
      cwd: "/",
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", TERM: "xterm" },
    });
    let output = "";
    const timer = setTimeout(() => {
      term.kill();
      reject(new Error(`pty: no exit after 10 s (output ${JSON.stringify(output)})`));
    }, 10_000);
    term.onData((data) => (output += data));
    term.onExit(({ exitCode }) => {
      clearTimeout(timer);
      // node-pty may deliver the last bytes after the exit event: give them one turn of the loop.
      setTimeout(() => {
        const text = output.replace(/\r/g, "").trim();
        if (exitCode !== 0 || text !== "pty-ok") {
          reject(new Error(`pty: exit ${exitCode}, output ${JSON.stringify(output)}`));
        } else {
          resolve(text);
        }
      }, 20);
    });
  });
}

async function sshRoundTrip(): Promise<number> {
  const hostKey = ssh2.utils.generateKeyPairSync("ed25519").private;
  const password = randomBytes(12).toString("hex");
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    client.on("authentication", (ctx) => {
      if (ctx.method === "password" && ctx.username === "self-test" && ctx.password === password) ctx.accept();
      else ctx.reject(["password"]);
    });
    client.on("ready", () => {
      client.on("session", (accept) => {
        accept().once("exec", (acceptExec, _reject, info) => {
          const channel = acceptExec();
          channel.write(`ran ${info.command}\n`);
          channel.exit(7);
          channel.end();
        });
      });
    });
    client.on("error", () => {}); // the client side reports the failure
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  try {
    for (const cipher of ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"] as const) {
      await sshExec(port, password, cipher);
    }
  } finally {
    server.close();
  }
  return port;
}

function sshExec(port: number, password: string, cipher: "aes128-gcm@openssh.com" | "chacha20-poly1305@openssh.com"): Promise<void> {
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    const fail = (err: Error) => {
      conn.end();
      reject(new Error(`ssh (${cipher}): ${err.message}`));
    };
    const timer = setTimeout(() => fail(new Error("no answer after 10 s")), 10_000);
    conn.on("error", (err) => {
      clearTimeout(timer);
      fail(err);
    });
    conn.on("ready", () => {
      conn.exec("hello", (err, stream) => {
        if (err) return fail(err);
        let out = "";
        let code: number | undefined;
        stream.on("data", (d: Buffer) => (out += d.toString()));
        stream.on("exit", (c: number) => (code = c));
        stream.on("close", () => {
          clearTimeout(timer);
          conn.end();
          if (out !== "ran hello\n" || code !== 7) reject(new Error(`ssh (${cipher}): exec gave ${JSON.stringify(out)}, exit ${code}`));
          else resolve();
        });
      });
    });
    conn.connect({
      host: "127.0.0.1",
      port,
      username: "self-test",
      password,
      algorithms: { cipher: [cipher] },
      readyTimeout: 10_000,
    });
  });
}
