import type { JobLogsResponse } from "@outpost/sdk/client-fleet";
import { OutpostError } from "@outpost/sdk/client-error";
import type { JobLog, ProvisionerJob } from "@outpost/sdk/provisioner";
import { describe, expect, it } from "vitest";
import { printJobLogs } from "../../src/follow.js";
import { fakeContext } from "../helpers/fake-context.js";

const job = (status: ProvisionerJob["status"], extra: Partial<ProvisionerJob> = {}): ProvisionerJob => ({
  id: "00000000-0000-4000-8000-000000000001",
  type: "workspace_build",
  status,
  error: null,
  tags: {},
  worker_id: null,
  created_at: "2026-01-01T00:00:00Z",
  started_at: null,
  completed_at: null,
  canceled_at: null,
  queue_position: 0,
  ...extra,
});
const log = (id: number, stage: string, output: string): JobLog => ({ id, created_at: "2026-01-01T00:00:00Z", stage, level: "info", output });

/** A fake log endpoint: answers from a script, recording each (after, wait) it was asked for. */
function scripted(answers: (JobLogsResponse | Error)[]) {
  const calls: [number, number][] = [];
  const fetch = async (after: number, wait: number) => {
    calls.push([after, wait]);
    const next = answers.shift();
    if (!next) throw new Error("no more answers");
    if (next instanceof Error) throw next;
    return next;
  };
  return { calls, fetch };
}

describe("printJobLogs", () => {
  it("follows a job to the end, resuming after the last line, and reads once more after it ends", async () => {
    const s = scripted([
      { logs: [], job: job("pending", { queue_position: 2 }) },
      { logs: [log(1, "init", "== init"), log(2, "init", "type-checking")], job: job("running") },
      { logs: [log(3, "apply", "created docker_volume.home")], job: job("succeeded") },
      { logs: [log(4, "apply", "done")], job: job("succeeded") },
      { logs: [], job: job("succeeded") },
    ]);
    const ctx = fakeContext({ interactive: true });
    const final = await printJobLogs(ctx, s.fetch, { follow: true, waitSeconds: 25 });
    expect(final.status).toBe("succeeded");
    // The `== STAGE` header line is not repeated.
    expect(ctx.stdout).toEqual(["init | type-checking", "apply | created docker_volume.home", "apply | done"]);
    expect(s.calls).toEqual([[0, 0], [0, 25], [2, 25], [3, 0], [4, 0]]);
    expect(ctx.stderr).toEqual(["… waiting for a provisioner daemon (queue position 2)", "… running"]);
  });

  it("without follow prints what is there and returns the job as it is", async () => {
    const s = scripted([
      { logs: [log(1, "init", "a")], job: job("running") },
      { logs: [], job: job("running") },
    ]);
    const ctx = fakeContext();
    expect((await printJobLogs(ctx, s.fetch, { follow: false })).status).toBe("running");
    expect(ctx.stdout).toEqual(["init | a"]);
    expect(s.calls).toEqual([[0, 0], [1, 0]]);
    expect(ctx.stderr).toEqual([]);
  });

  it("retries a dropped connection while following, but not other errors", async () => {
    const down = new OutpostError(0, "UNAVAILABLE", "cannot reach http://x", "ECONNREFUSED");
    const sleeps: number[] = [];
    const s = scripted([down, down, { logs: [log(1, "init", "x")], job: job("failed", { error: "boom" }) }, { logs: [], job: job("failed", { error: "boom" }) }]);
    const ctx = fakeContext();
    const final = await printJobLogs(ctx, s.fetch, { follow: true, sleep: async (ms) => void sleeps.push(ms) });
    expect(final).toMatchObject({ status: "failed", error: "boom" });
    expect(sleeps).toEqual([1000, 2000]);
    const forbidden = new OutpostError(403, "FORBIDDEN", "no");
    await expect(printJobLogs(ctx, scripted([forbidden]).fetch, { follow: true, sleep: async () => {} })).rejects.toBe(forbidden);
  });
});
