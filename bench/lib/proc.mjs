// Process and machine figures from /proc (Linux): memory, CPU time, children, whole-machine CPU.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** "pid (comm) state ppid ..." split after the comm (which may hold spaces and parentheses). */
function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, "latin1");
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** User + system CPU seconds the process has used so far (its own threads, not its children). */
export function cpuSeconds(pid) {
  const f = statFields(pid);
  // After the comm: state(0) ppid(1) ... utime(11) stime(12).
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function statusField(pid, name) {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "latin1"));
  return m ? Number(m[1]) : undefined;
}

/** Resident set size in KiB (VmRSS). */
export const rssKb = (pid) => statusField(pid, "VmRSS");

/**
 * Proportional set size in KiB: shared pages (PostgreSQL's shared buffers, mapped by every backend)
 * counted once across processes, so the sum over a process tree is what the tree really holds.
 */
export function pssKb(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "latin1"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` that are alive now. */
export function childrenOf(pid) {
  const out = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (Number(statFields(e)[1]) === pid) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU seconds of the children the process has waited for (they move here from the live sum when they exit). */
export function reapedChildrenCpuSeconds(pid) {
  const f = statFields(pid);
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/**
 * A process and its children (PostgreSQL: the postmaster and its backends and workers). `cpuSeconds`
 * counts the live processes and the children already reaped, so it only grows when a backend exits.
 */
export function treeFigures(rootPid) {
  const pids = [rootPid, ...childrenOf(rootPid)];
  let rss = 0;
  let pss = 0;
  let cpu = 0;
  for (const p of pids) {
    try {
      rss += rssKb(p) ?? 0;
      pss += pssKb(p) ?? 0;
      cpu += cpuSeconds(p);
    } catch {
      // exited between the listing and the read
    }
  }
  try {
    cpu += reapedChildrenCpuSeconds(rootPid);
  } catch {
    // the root is gone
  }
  return { processes: pids.length, rssKb: rss, pssKb: pss, cpuSeconds: cpu };
}

/** Whole-machine CPU jiffies: busy and total since boot (the difference of two reads gives the load). */
export function machineCpu() {
  const f = readFileSync("/proc/stat", "latin1").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4]; // idle + iowait
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/** CPU seconds used by the whole machine between two machineCpu() reads. */
export const machineCpuSeconds = (a, b) => b.busy - a.busy;

export const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

/** Processes whose environment carries `NAME=value` (the process driver marks agents with their workspace id). */
export function processesWithEnv(name, value) {
  const needle = `${name}=${value}\u0000`;
  const out = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${e}/environ`, "latin1");
      if (!(env.startsWith(needle) || env.includes(`\u0000${needle}`))) continue;
      if (statFields(e)[0] === "Z") continue;
      out.push({ pid: Number(e), cmdline: readFileSync(`/proc/${e}/cmdline`, "latin1").split("\u0000").join(" ").trim() });
    } catch {
      // gone, or not ours
    }
  }
  return out;
}

/** The first live process whose command line contains `marker`, or undefined. */
export function findProcess(marker) {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, "latin1").split("\u0000").join(" ").includes(marker)) return Number(e);
    } catch {
      // gone
    }
  }
  return undefined;
}
