// Ending what an SSH session started. Every session process is spawned as the leader of a new session
// (`setsid`: Node's `detached`, node-pty's forkpty), so its pid is both its process group and its
// session id. sshd relies on the kernel's terminal hangup for PTY sessions and leaves non-PTY children
// running; the agent must leave nothing behind when a channel or the tunnel goes away, so it signals
// the group and everything else still in the session (an interactive shell puts each job in its own
// group), then SIGKILLs what survives the grace period. A process that left the session (`setsid`,
// a daemon) is deliberately left alone.
import { readdir, readFile } from "node:fs/promises";

/** Signals the process group led by `pgid`; false when it no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | number): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone (EPERM cannot happen: we started it as ourselves)
  }
}

/** Live (non-zombie) processes whose process group or session is `leader`'s, from /proc. */
export async function sessionMembers(leader: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return signalGroup(leader, 0) ? [leader] : [];
  }
  const found: number[] = [];
  await Promise.all(
    entries.map(async (name) => {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 0) return;
      let stat: string;
      try {
        stat = await readFile(`/proc/${pid}/stat`, "latin1");
      } catch {
        return; // exited while we looked
      }
      // "pid (comm) state ppid pgrp session ...": comm may contain spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const [state, , pgrp, session] = fields;
      if (state === "Z" || state === "X") return;
      if (Number(pgrp) === leader || Number(session) === leader) found.push(pid);
    }),
  );
  return found;
}

function signalAll(leader: number, pids: readonly number[], signal: NodeJS.Signals): void {
  signalGroup(leader, signal);
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * SIGHUP (then SIGCONT, so stopped jobs see it) to the session of `leader`; whatever is still there
 * after `graceMs` gets SIGKILL. Resolves once nothing of the session is left (or shortly after the
 * SIGKILL when something cannot be reaped, e.g. zombies under a PID 1 that does not reap).
 */
export async function hangUpSession(leader: number, graceMs: number, opts: { groupOnly?: boolean } = {}): Promise<void> {
  // Without job control (no PTY) everything a session starts stays in the leader's group unless it
  // leaves on purpose: checking the group is a kill(2), where scanning /proc costs tens of ms of CPU
  // per session on a busy machine.
  const groupMembers = opts.groupOnly ? async (l: number) => (signalGroup(l, 0) ? [l] : []) : sessionMembers;
  let members = await groupMembers(leader);
  if (members.length === 0) return;
  signalAll(leader, members, "SIGHUP");
  signalAll(leader, members, "SIGCONT");
  const deadline = Date.now() + graceMs;
  let step = 10;
  while (members.length > 0 && Date.now() < deadline) {
    await sleep(Math.min(step, Math.max(1, deadline - Date.now())));
    step = Math.min(step * 2, 200);
    members = await groupMembers(leader);
  }
  if (members.length === 0) return;
  signalAll(leader, members, "SIGKILL");
  for (let i = 0; i < 20 && members.length > 0; i++) {
    await sleep(25);
    members = await groupMembers(leader);
  }
}
