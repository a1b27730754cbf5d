// Listening TCP ports inside the workspace, from /proc/net/tcp and /proc/net/tcp6 (state 0A = LISTEN),
// polled; the server shows them for port forwarding. Process names come from matching socket inodes
// against /proc/PID/fd links, which is costly, so only when the set of ports changed, and skipped for
// processes we may not inspect (another user's).
import { readdir, readFile, readlink } from "node:fs/promises";
import type { ListeningPort } from "@outpost/sdk/agents";
import type { AgentClock } from "./clock.js";
import type { AgentLogger } from "./logger.js";

export interface ProcListener {
  port: number;
  inode: string;
}

const LISTEN = "0A";

/** Listening sockets in the text of /proc/net/tcp or /proc/net/tcp6 (header line skipped). */
export function parseProcNetTcp(text: string): ProcListener[] {
  const out: ProcListener[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    if (f.length < 10 || f[3] !== LISTEN) continue;
    const colon = f[1]!.lastIndexOf(":");
    const port = parseInt(f[1]!.slice(colon + 1), 16);
    if (colon < 0 || !(port >= 1 && port <= 65535)) continue;
    out.push({ port, inode: f[9]! });
  }
  return out;
}

/** Unique ports, sorted, from every table's listeners. */
export function uniquePorts(listeners: ProcListener[]): number[] {
  return [...new Set(listeners.map((l) => l.port))].sort((a, b) => a - b);
}

export async function readListeners(procRoot = "/proc"): Promise<ProcListener[]> {
  const tables = await Promise.all(["net/tcp", "net/tcp6"].map((t) => readFile(`${procRoot}/${t}`, "utf8").catch(() => "")));
  return tables.flatMap(parseProcNetTcp);
}

/** inode -> process name, for the inodes asked; processes we cannot read are skipped. */
export async function processNames(inodes: Set<string>, procRoot = "/proc"): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const pids = (await readdir(procRoot).catch(() => [] as string[])).filter((p) => /^\d+$/.test(p));
  for (const pid of pids) {
    if (names.size === inodes.size) break;
    const fds = await readdir(`${procRoot}/${pid}/fd`).catch(() => [] as string[]); // EACCES, or exited
    for (const fd of fds) {
      const link = await readlink(`${procRoot}/${pid}/fd/${fd}`).catch(() => "");
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (!m || !inodes.has(m[1]!) || names.has(m[1]!)) continue;
      const comm = (await readFile(`${procRoot}/${pid}/comm`, "utf8").catch(() => "")).trim();
      if (comm) names.set(m[1]!, comm.slice(0, 256));
    }
  }
  return names;
}

export interface PortsWatcherOptions {
  clock: AgentClock;
  log: AgentLogger;
  send: (ports: ListeningPort[]) => void;
  /** Default 1500 ms. */
  intervalMs?: number;
  procRoot?: string;
}

/** Polls until stop(); sends the list when the set of ports changed (the first poll always sends). */
export function watchListeningPorts(options: PortsWatcherOptions): { stop(): void } {
  const { clock } = options;
  let lastKey: string | undefined;
  let timer: unknown;
  let stopped = false;

  const poll = async () => {
    try {
      const listeners = await readListeners(options.procRoot);
      const ports = uniquePorts(listeners);
      const key = ports.join(",");
      if (key !== lastKey && !stopped) {
        lastKey = key;
        const names = await processNames(new Set(listeners.map((l) => l.inode)), options.procRoot);
        const byPort = new Map<number, string>();
        for (const l of listeners) {
          const name = names.get(l.inode);
          if (name && !byPort.has(l.port)) byPort.set(l.port, name);
        }
        if (!stopped) options.send(ports.map((port) => ({ port, network: "tcp" as const, ...(byPort.has(port) ? { process_name: byPort.get(port)! } : {}) })));
      }
    } catch (err) {
      options.log.debug("reading listening ports failed", { error: err });
    }
    if (!stopped) timer = clock.setTimeout(() => void poll(), options.intervalMs ?? 1500);
  };
  void poll();
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
    },
  };
}
