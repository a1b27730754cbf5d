// Metadata items from the template (`{key, displayName?, script, interval, timeout?}`): each script runs
// with `sh -c` every `interval` seconds (never two runs of one item at once), killed after `timeout`
// (default: the interval). Its trimmed stdout (at most 16 KiB) is the value; a non-zero exit, a timeout
// or stderr make the error. Results go to the server only when value or error changed, batched.
import type { MetadataResult } from "@outpost/sdk/agents";
import { z } from "zod";
import type { AgentClock } from "./clock.js";
import { killGroup, spawnGroup } from "./child-process.js";
import type { AgentLogger } from "./logger.js";

const MAX_VALUE = 16_384;
const MAX_ERROR = 4096;

export const MetadataItemSchema = z.object({
  key: z.string().min(1).max(64),
  displayName: z.string().optional(),
  script: z.string().max(65_536),
  interval: z.number().int().min(1),
  timeout: z.number().int().min(1).optional(),
});
export type MetadataItem = z.infer<typeof MetadataItemSchema>;

/** The manifest's items that are valid; the others are logged and skipped. */
export function parseMetadataItems(raw: Record<string, unknown>[], log: AgentLogger): MetadataItem[] {
  const items: MetadataItem[] = [];
  for (const [i, entry] of raw.entries()) {
    const r = MetadataItemSchema.safeParse(entry);
    if (r.success) items.push(r.data);
    else log.warn("skipping an invalid metadata item from the manifest", { index: i, field: r.error.issues[0]?.path.join("."), error: r.error.issues[0]?.message });
  }
  return items;
}

export interface MetadataRunnerOptions {
  items: MetadataItem[];
  directory: string;
  env: Record<string, string>;
  clock: AgentClock;
  log: AgentLogger;
  send: (results: MetadataResult[]) => void;
  /** Changed results collected this long before they are sent together. Default 250 ms. */
  batchMs?: number;
  /** The shell running each script. Default /bin/sh. */
  shell?: string;
}

export interface MetadataRunner {
  stop(): void;
}

export function startMetadata(options: MetadataRunnerOptions): MetadataRunner {
  const { clock } = options;
  const last = new Map<string, { value: string; error: string }>();
  const timers = new Map<string, unknown>();
  const running = new Set<{ kill(): void }>();
  let pending: MetadataResult[] = [];
  let batchTimer: unknown;
  let stopped = false;

  const flush = () => {
    batchTimer = undefined;
    if (stopped || pending.length === 0) return;
    const results = pending;
    pending = [];
    options.send(results);
  };

  const report = (item: MetadataItem, value: string, error: string) => {
    const prev = last.get(item.key);
    if (prev && prev.value === value && prev.error === error) return;
    last.set(item.key, { value, error });
    pending = pending.filter((r) => r.key !== item.key);
    pending.push({ key: item.key, value, error, collected_at: new Date(clock.now()).toISOString() });
    if (batchTimer === undefined) batchTimer = clock.setTimeout(flush, options.batchMs ?? 250);
  };

  const schedule = (item: MetadataItem, delayMs: number) => {
    if (stopped) return;
    timers.set(
      item.key,
      clock.setTimeout(() => void tick(item), delayMs),
    );
  };

  const tick = async (item: MetadataItem) => {
    const started = clock.now();
    const result = await runScript(item, options, running);
    if (stopped) return;
    report(item, result.value, result.error);
    schedule(item, Math.max(0, item.interval * 1000 - (clock.now() - started)));
  };

  for (const item of options.items) schedule(item, 0);

  return {
    stop() {
      stopped = true;
      for (const t of timers.values()) clock.clearTimeout(t);
      if (batchTimer !== undefined) clock.clearTimeout(batchTimer);
      for (const r of running) r.kill();
    },
  };
}

function runScript(item: MetadataItem, options: MetadataRunnerOptions, running: Set<{ kill(): void }>): Promise<{ value: string; error: string }> {
  const timeoutMs = (item.timeout ?? item.interval) * 1000;
  return new Promise((resolve) => {
    let child;
    try {
      child = spawnGroup(options.shell ?? "/bin/sh", ["-c", item.script], { cwd: options.directory, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      return resolve({ value: "", error: cap(`cannot run the script: ${(err as Error).message}`, MAX_ERROR) });
    }
    const out = capture(child.stdout!, MAX_VALUE * 4);
    const errOut = capture(child.stderr!, MAX_ERROR * 4);
    let timedOut = false;
    const handle = { kill: () => killGroup(child, "SIGKILL") };
    running.add(handle);
    const timer = options.clock.setTimeout(() => {
      timedOut = true;
      handle.kill();
    }, timeoutMs);
    let spawnError: Error | undefined;
    child.on("error", (err) => (spawnError = err));
    child.on("close", (code, signal) => {
      options.clock.clearTimeout(timer);
      running.delete(handle);
      killGroup(child, "SIGKILL"); // a background child of the script must not outlive the run
      const value = cap(out().trim(), MAX_VALUE);
      let error = errOut().trim();
      if (spawnError) error = `cannot run the script: ${spawnError.message}`;
      else if (timedOut) error = `timed out after ${timeoutMs / 1000} s${error ? `: ${error}` : ""}`;
      else if (code !== 0) error = `exit ${code ?? signal}${error ? `: ${error}` : ""}`;
      resolve({ value, error: cap(error, MAX_ERROR) });
    });
  });
}

/** Collects up to `max` bytes of a stream (the rest is read and dropped, so the child never blocks). */
function capture(stream: NodeJS.ReadableStream, max: number): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on("data", (chunk: Buffer) => {
    if (size >= max) return;
    chunks.push(chunk.subarray(0, max - size));
    size += Math.min(chunk.length, max - size);
  });
  stream.on("error", () => {});
  return () => Buffer.concat(chunks).toString("utf8");
}

function cap(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}
