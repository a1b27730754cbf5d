import net from "node:net";
import { waitForAgent } from "../agent-wait.js";
import { authedClient } from "../client.js";
import { currentSession } from "../config-store.js";
import { CliError, type CliContext } from "../context.js";
import { openRelay, pipeRelay, relayUrl } from "../relay.js";
import { parseSubArgs } from "../subcommands.js";
import { parseWorkspaceTarget, targetLabel, type WorkspaceTarget } from "../workspace-target.js";

const HELP = `Usage: outpost port-forward WORKSPACE --tcp [LOCAL:]REMOTE [--tcp ...]

Listens on 127.0.0.1:LOCAL and carries each connection to 127.0.0.1:REMOTE inside the workspace,
through the Outpost server. Runs until Ctrl-C. Waits for the workspace's agent like \`outpost ssh\`
(and starts a stopped workspace after asking). WORKSPACE is NAME[.AGENT] or OWNER/NAME[.AGENT].

Options:
  --tcp LOCAL:REMOTE      forward 127.0.0.1:LOCAL here to port REMOTE there; repeat for more
  --tcp PORT              the same port on both sides
  --no-wait               do not wait for a blocking startup script

Examples:
  outpost port-forward dev --tcp 8080
  outpost port-forward dev.main --tcp 3000:80 --tcp 5433:5432`;

export interface TcpForward {
  local: number;
  remote: number;
}

function port(flagValue: string, text: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new CliError(`invalid value for --tcp: ${JSON.stringify(flagValue)}`, [`${JSON.stringify(text)} is not a TCP port (1-65535)`, "expected LOCAL:REMOTE or PORT, e.g. --tcp 8080:80"], 2);
  return n;
}

/** `--tcp` values: LOCAL:REMOTE or PORT; a local port given twice is refused (exit 2). */
export function parseTcpForwards(values: string[]): TcpForward[] {
  if (values.length === 0) throw new CliError("missing --tcp", ["say what to forward, e.g. --tcp 8080 or --tcp 3000:80"], 2);
  const seen = new Map<number, string>();
  return values.map((value) => {
    const parts = value.split(":");
    if (parts.length > 2) throw new CliError(`invalid value for --tcp: ${JSON.stringify(value)}`, ["expected LOCAL:REMOTE or PORT (it always listens on 127.0.0.1)"], 2);
    const local = port(value, parts[0]!);
    const remote = parts.length === 2 ? port(value, parts[1]!) : local;
    const before = seen.get(local);
    if (before !== undefined) throw new CliError(`--tcp ${before} and --tcp ${value} both listen on 127.0.0.1:${local}`, ["give each local port once"], 2);
    seen.set(local, value);
    return { local, remote };
  });
}

function listen(fwd: TcpForward, onConnection: (s: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: a client that shuts down writing (a request, then FIN) still gets the reply.
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, onConnection);
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new CliError(`cannot listen on 127.0.0.1:${fwd.local}: ${err.code === "EADDRINUSE" ? "the port is in use" : (err.code ?? err.message)}`, err.code === "EACCES" ? ["ports below 1024 need privileges: pick a higher LOCAL port"] : [])),
    );
    server.listen(fwd.local, "127.0.0.1", () => resolve(server));
  });
}

export async function run(ctx: CliContext): Promise<number> {
  const a = parseSubArgs(ctx, { usage: HELP, options: { tcp: { type: "string", multiple: true }, "no-wait": { type: "boolean" } }, positionals: ["WORKSPACE"] });
  if (a.help) return 0;
  const v = a.values as { tcp?: string[]; "no-wait"?: boolean };
  const target = parseWorkspaceTarget(a.positionals[0]!);
  const forwards = parseTcpForwards(v.tcp ?? []);
  const client = await authedClient(ctx);
  const session = (await currentSession(ctx))!;
  const { agent } = await waitForAgent(ctx, client, target, { waitForStartup: !v["no-wait"] });
  // By name, not agent id: the forward keeps working across a restart of the workspace.
  const to: WorkspaceTarget = { ...target, agent: agent.name };
  const label = targetLabel(target);
  const sockets = new Set<net.Socket>();
  const carry = async (fwd: TcpForward, sock: net.Socket) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {}); // the relay's end says what happened
    const from = `127.0.0.1:${fwd.local}`;
    try {
      const ws = await openRelay(relayUrl(session.url, to, { kind: "tcp", port: fwd.remote }), session.token);
      if (sock.destroyed) return ws.close();
      sock.resume();
      const end = await pipeRelay(ws, sock, sock, { halfClose: true });
      if (!end.ok) ctx.io.err(`connection ${from} -> ${label}:${fwd.remote} lost: ${end.error.message}`);
      sock.end();
    } catch (err) {
      ctx.io.err(`connection ${from} -> ${label}:${fwd.remote} failed: ${(err as Error).message}`);
      sock.destroy();
    }
  };
  const servers: net.Server[] = [];
  try {
    for (const fwd of forwards) servers.push(await listen(fwd, (sock) => void carry(fwd, sock)));
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  for (const fwd of forwards) ctx.io.out(`Forwarding 127.0.0.1:${fwd.local} -> ${label}:${fwd.remote}`);
  ctx.io.err("Press Ctrl-C to stop.");
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  for (const s of servers) s.close();
  for (const sock of sockets) sock.destroy();
  return 0;
}
