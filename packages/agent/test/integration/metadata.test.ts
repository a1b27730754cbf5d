// Metadata scripts with a real sh: values on their interval, changes only, errors, timeouts, caps.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { MetadataResult } from "@outpost/sdk/agents";
import { systemClock } from "../../src/clock.js";
import { silentLogger, type AgentLogger } from "../../src/logger.js";
import { parseMetadataItems, startMetadata, type MetadataItem, type MetadataRunner } from "../../src/metadata.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "outpost-metadata-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let runner: MetadataRunner | undefined;
afterEach(() => runner?.stop());

function start(items: MetadataItem[]) {
  const batches: MetadataResult[][] = [];
  runner = startMetadata({ items, directory: dir, env: { PATH: "/usr/bin:/bin", WHO: "agent" }, clock: systemClock, log: silentLogger, send: (r) => batches.push(r), batchMs: 50 });
  const latest = (key: string) => batches.flat().filter((r) => r.key === key).at(-1);
  return { batches, latest };
}

async function waitFor<T>(get: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("metadata", () => {
  it("runs each script at once, sends trimmed stdout, batched, with the environment and directory", async () => {
    const m = start([
      { key: "who", script: "echo \"  $WHO  \"", interval: 60 },
      { key: "where", script: "pwd", interval: 60 },
    ]);
    await waitFor(() => m.latest("who") && m.latest("where"));
    expect(m.latest("who")).toMatchObject({ key: "who", value: "agent", error: "" });
    expect(m.latest("where")!.value).toBe(dir);
    expect(m.batches).toHaveLength(1); // both results in one message
    expect(Date.parse(m.latest("who")!.collected_at)).toBeGreaterThan(Date.now() - 10_000);
  });

  it("sends again only when the value changes", async () => {
    const counter = path.join(dir, "counter");
    // The value changes every second run: 0 0 1 1 2 2 ...
    const m = start([{ key: "n", script: `c=$(cat ${counter} 2>/dev/null || echo 0); echo $((c + 1)) > ${counter}; echo $((c / 2))`, interval: 1 }]);
    await waitFor(() => m.batches.flat().filter((r) => r.key === "n").length >= 2 || undefined, 6000);
    const values = m.batches.flat().map((r) => r.value);
    expect(values.slice(0, 2)).toEqual(["0", "1"]);
  }, 10_000);

  it("reports a failing script's exit code and stderr, and a hung one as timed out", async () => {
    const m = start([
      { key: "bad", script: "echo partial; echo oops >&2; exit 4", interval: 60 },
      { key: "slow", script: "sleep 30", interval: 60, timeout: 1 },
    ]);
    const bad = await waitFor(() => m.latest("bad"));
    expect(bad).toMatchObject({ value: "partial", error: "exit 4: oops" });
    const t0 = Date.now();
    const slow = await waitFor(() => m.latest("slow"));
    expect(slow).toMatchObject({ value: "", error: "timed out after 1 s" });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("caps a huge value at 16 KiB", async () => {
    const m = start([{ key: "big", script: "head -c 100000 /dev/zero | tr '\\0' x", interval: 60 }]);
    const big = await waitFor(() => m.latest("big"));
    expect(big.value.length).toBe(16_384);
  });

  it("skips invalid items from the manifest with a log line naming the field", () => {
    const warnings: string[] = [];
    const log: AgentLogger = { ...silentLogger, warn: (msg, f) => warnings.push(`${msg} ${JSON.stringify(f)}`), child: () => log };
    const items = parseMetadataItems([{ key: "ok", script: "true", interval: 5, displayName: "OK" }, { key: "bad", script: "true", interval: 0 }, { nope: 1 }], log);
    expect(items.map((i) => i.key)).toEqual(["ok"]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('"field":"interval"');
  });
});
