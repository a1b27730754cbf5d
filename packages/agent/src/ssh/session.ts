// One SSH session channel: the requests that prepare it (env, pty-req, auth-agent-req), then the one
// that starts it (shell, exec, subsystem sftp), then window-change and signal while it runs. Its
// process is hung up when the channel closes (and by the connection's cleanup when the whole
// connection goes away).
import { stat } from "node:fs/promises";
import type { AcceptConnection, ServerChannel, Session, SFTPWrapper } from "ssh2";
import type { AgentSocket } from "./agent-forward.js";
import { type Account, sessionCommand, sessionEnv } from "./login-env.js";
import { serveBuiltinSftp } from "./sftp-builtin.js";
import { type SessionProcess, spawnPiped, spawnPty } from "./session-process.js";

export type SftpMode = { kind: "binary"; path: string } | { kind: "builtin" };

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** What a session needs from its connection and the server's options. */
export interface SessionContext {
  account: Account;
  agentEnv: Record<string, string | undefined>;
  env: () => Record<string, string>;
  directory: () => string;
  beforeSession: (() => Promise<void>) | undefined;
  sftp: SftpMode;
  connection: { clientAddress: string; clientPort: number; serverAddress: string; serverPort: number };
  log: Logger;
  graceMs: number;
  touch: () => void;
  /** Registers cleanup to run when the connection ends; returns the function that unregisters it. */
  track: (close: () => Promise<void> | void) => () => void;
  /** The connection's agent-forwarding socket, created on first use. */
  agentSocket: () => Promise<AgentSocket | undefined>;
}

interface PtyRequest {
  term: string;
  cols: number;
  rows: number;
}

/**
 * Calls `cb` once when the channel is closed. ssh2 emits 'close' only after the readable side ended,
 * which never happens while the channel is paused by backpressure (a child that stopped reading its
 * input): the peer's CHANNEL_CLOSE is caught where ssh2 answers it (its close() call on the channel).
 */
function whenClosed(channel: ServerChannel, cb: () => void): void {
  let fired = false;
  const fire = () => {
    if (fired) return;
    fired = true;
    cb();
  };
  channel.once("close", fire);
  const ch = channel as unknown as { close: (...args: unknown[]) => unknown; incoming?: { state?: string } };
  const original = ch.close;
  ch.close = function (this: unknown, ...args: unknown[]) {
    if (ch.incoming?.state === "closed") fire();
    return original.apply(this, args);
  };
}

/** The session's start directory: the agent's directory, else home, else "/" (sshd says why). */
async function startDirectory(ctx: SessionContext, warn: (line: string) => void): Promise<string> {
  const candidates = [ctx.directory(), ctx.account.home, "/"].filter((d) => d !== "");
  for (const dir of candidates) {
    try {
      if ((await stat(dir)).isDirectory()) return dir;
      warn(`Could not chdir to ${dir}: Not a directory`);
    } catch (err) {
      warn(`Could not chdir to ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return "/";
}

async function waitBeforeSession(ctx: SessionContext): Promise<void> {
  if (!ctx.beforeSession) return;
  try {
    await ctx.beforeSession();
  } catch (err) {
    // A failed startup script does not lock the user out of their workspace.
    ctx.log.warn("ssh: startup gate failed, starting the session anyway", { err: String(err) });
  }
}

export function handleSession(ctx: SessionContext, acceptSession: AcceptConnection<Session>): void {
  const session = acceptSession();
  const clientEnv: Record<string, string> = {};
  let ptyReq: PtyRequest | undefined;
  let wantAgent = false;
  let proc: SessionProcess | undefined;

  session.on("env", (accept, _reject, info) => {
    clientEnv[info.key] = info.val;
    accept?.();
  });
  session.on("pty", (accept, _reject, info) => {
    ptyReq = { term: info.term || "xterm", cols: info.cols || 80, rows: info.rows || 24 };
    accept?.();
  });
  session.on("window-change", (accept, _reject, info) => {
    if (ptyReq) ptyReq = { ...ptyReq, cols: info.cols || ptyReq.cols, rows: info.rows || ptyReq.rows };
    proc?.resize(info.cols, info.rows);
    accept?.();
  });
  session.on("x11", (_accept, reject) => reject?.());
  session.on("signal", (accept, reject, info) => {
    if (proc?.signal(info.name)) accept?.();
    else reject?.();
  });
  session.on("auth-agent", (accept) => {
    wantAgent = true;
    void ctx.agentSocket(); // start creating it now; the session waits for it before spawning
    accept?.();
  });

  /** `argv`: a program to run as is (a subsystem); otherwise the shell runs `execCommand` or a login. */
  const start = async (channel: ServerChannel, argv: { file: string; args: string[] } | undefined, execCommand: string | undefined) => {
    let closed = false;
    let untrack = () => {};
    whenClosed(channel, () => {
      closed = true;
      void (async () => {
        await proc?.terminate(ctx.graceMs);
        untrack();
      })();
    });
    await waitBeforeSession(ctx);
    const authSock = wantAgent ? (await ctx.agentSocket())?.path : undefined;
    const cwd = await startDirectory(ctx, (line) => channel.stderr.write(`${line}\r\n`));
    if (closed) return;
    const env = sessionEnv({
      account: ctx.account,
      agentEnv: ctx.agentEnv,
      extraEnv: ctx.env(),
      clientEnv,
      connection: ctx.connection,
      term: ptyReq?.term,
      authSock,
    });
    const program = argv ?? sessionCommand(ctx.account.shell, execCommand);
    const spec = {
      ...program,
      cwd,
      env,
      touch: ctx.touch,
      onError: (message: string, err: unknown) => ctx.log.warn(`ssh: ${message}`, { err: String(err), file: program.file }),
    };
    const running = ptyReq && !argv ? spawnPty(channel, { ...spec, ...ptyReq }) : spawnPiped(channel, spec);
    proc = running;
    untrack = ctx.track(() => running.terminate(ctx.graceMs));
  };

  const run = (accept: AcceptConnection<ServerChannel>, argv: { file: string; args: string[] } | undefined, execCommand: string | undefined) => {
    const channel = accept();
    start(channel, argv, execCommand).catch((err: unknown) => {
      ctx.log.error("ssh: session failed to start", { err: String(err) });
      channel.close();
    });
  };

  session.on("shell", (accept) => run(accept, undefined, undefined));
  session.on("exec", (accept, _reject, info) => run(accept, undefined, info.command));
  session.on("subsystem", (accept, reject, info) => {
    if (info.name === "sftp" && ctx.sftp.kind === "binary") run(accept, { file: ctx.sftp.path, args: [] }, undefined);
    else reject?.();
  });
  if (ctx.sftp.kind === "builtin") {
    session.on("sftp", (accept) => startBuiltinSftp(ctx, accept));
  }
}

function startBuiltinSftp(ctx: SessionContext, accept: () => SFTPWrapper): void {
  const sftp = accept();
  // Requests are answered once the session directory is known (and the startup gate opened); the
  // parser keeps them in order meanwhile.
  const ready = (async () => {
    await waitBeforeSession(ctx);
    return startDirectory(ctx, (line) => ctx.log.warn(`ssh: sftp: ${line}`));
  })();
  const server = serveBuiltinSftp(sftp, {
    cwd: ready,
    touch: ctx.touch,
  });
  const untrack = ctx.track(() => server.close());
  // The client's EOF ends the session like sftp-server's exit on EOF: exit-status 0, then CLOSE (scp
  // reports failure when ssh exits 255 for want of an exit status).
  sftp.once("end", () => {
    const ch = sftp as unknown as { outgoing?: { id: number; state: string }; _protocol?: { exitStatus?(id: number, status: number): void } };
    if (ch.outgoing?.state === "open") ch._protocol?.exitStatus?.(ch.outgoing.id, 0);
    sftp.end();
  });
  sftp.once("close", () => {
    server.close();
    untrack();
  });
}
