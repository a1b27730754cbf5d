import { describe, expect, it } from "vitest";
import { AgentMessageSchema, type AgentMessage } from "@outpost/sdk/agent-rpc";
import { silentLogger } from "../../src/logger.js";
import { Outbox } from "../../src/outbox.js";

const T = Date.UTC(2030, 0, 1);
const line = (output: string) => ({ created_at: new Date(T).toISOString(), level: "info" as const, output });
const stats = (rx: number) => ({ sessions: { ssh: 0, pty: 0, tcp: 0 }, rx_bytes: rx, tx_bytes: 0, last_activity_at: null });
const tick = () => new Promise((r) => setImmediate(r));

/** A sink that records messages (validated against the protocol) and can be made to fail or wait. */
function recorder() {
  const sent: AgentMessage[] = [];
  let gate: Promise<void> | undefined;
  let failNext = false;
  const sink = async (m: AgentMessage) => {
    expect(AgentMessageSchema.safeParse(m).success).toBe(true);
    if (gate) await gate;
    if (failNext) {
      failNext = false;
      throw new Error("connection lost");
    }
    sent.push(m);
  };
  return {
    sent,
    sink,
    hold() {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
    failOnce: () => (failNext = true),
  };
}

describe("outbox (what the agent tells the server, across disconnections)", () => {
  it("while disconnected keeps only the latest state of each kind, and all logs in order", async () => {
    const box = new Outbox({ log: silentLogger, now: () => T });
    box.setLifecycle("created");
    box.setLifecycle("starting");
    box.addLogs("startup_script", [line("one")]);
    box.setStats(stats(1));
    box.addLogs("startup_script", [line("two")]);
    box.setLifecycle("ready");
    box.setStats(stats(2));
    box.setPorts([{ port: 22, network: "tcp" }]);
    const r = recorder();
    box.attach(r.sink);
    await tick();
    // A state message keeps the queue position of its first pending value, with the latest content.
    expect(r.sent.map((m) => m.type)).toEqual(["lifecycle", "logs", "stats", "logs", "ports"]);
    expect(r.sent[0]).toMatchObject({ type: "lifecycle", state: "ready" });
    expect(r.sent[1]).toMatchObject({ lines: [{ output: "one" }] });
    expect(r.sent[2]).toMatchObject({ stats: { rx_bytes: 2 } });
    expect(r.sent[3]).toMatchObject({ lines: [{ output: "two" }] });
  });

  it("re-sends the whole state on every new connection (the server may have restarted)", async () => {
    const box = new Outbox({ log: silentLogger, now: () => T });
    box.setLifecycle("ready");
    box.setPorts([]);
    box.setStats(stats(5));
    box.setMetadata([{ key: "a", value: "1", error: "", collected_at: new Date(T).toISOString() }]);
    const first = recorder();
    box.attach(first.sink);
    await tick();
    box.detach();
    const second = recorder();
    box.attach(second.sink);
    await tick();
    expect(second.sent.map((m) => m.type)).toEqual(["lifecycle", "ports", "metadata", "stats"]);
    expect(second.sent).toHaveLength(first.sent.length);
    expect(second.sent).toEqual(expect.arrayContaining(first.sent));
  });

  it("sends metadata results that changed, merged by key", async () => {
    const box = new Outbox({ log: silentLogger, now: () => T });
    const at = new Date(T).toISOString();
    const r = recorder();
    box.attach(r.sink);
    await tick();
    const release = r.hold();
    box.setMetadata([{ key: "a", value: "1", error: "", collected_at: at }]); // in flight
    box.setMetadata([{ key: "b", value: "x", error: "", collected_at: at }]);
    box.setMetadata([{ key: "b", value: "y", error: "", collected_at: at }]);
    release();
    await tick();
    expect(r.sent).toEqual([
      { type: "metadata", items: [{ key: "a", value: "1", error: "", collected_at: at }] },
      { type: "metadata", items: [{ key: "b", value: "y", error: "", collected_at: at }] },
    ]);
  });

  it("bounds logs kept while the server cannot take them, dropping the oldest with a marker line", async () => {
    const box = new Outbox({ log: silentLogger, now: () => T, maxLogLines: 5 });
    for (let i = 1; i <= 12; i++) box.addLogs("startup_script", [line(`l${i}`)]);
    expect(box.pendingLogLines).toBe(5);
    const r = recorder();
    box.attach(r.sink);
    await tick();
    const logs = r.sent.filter((m) => m.type === "logs").flatMap((m) => (m.type === "logs" ? m.lines.map((l) => l.output) : []));
    expect(logs).toEqual(["[outpost-agent: 7 earlier log lines were dropped while the server could not take them]", "l8", "l9", "l10", "l11", "l12"]);
  });

  it("splits a long log backlog into messages the protocol accepts (<= 1000 lines, bounded bytes)", async () => {
    const counts = async (box: Outbox) => {
      const r = recorder();
      box.attach(r.sink);
      for (let i = 0; i < 10; i++) await tick();
      return r.sent.map((m) => (m.type === "logs" ? m.lines.length : 0));
    };
    const many = new Outbox({ log: silentLogger, now: () => T, maxLogLines: 5000 });
    many.addLogs("startup_script", Array.from({ length: 2500 }, (_, i) => line(`line ${i}`)));
    expect(await counts(many)).toEqual([1000, 1000, 500]);

    const long = new Outbox({ log: silentLogger, now: () => T, maxLogBatchBytes: 64 * 1024 });
    long.addLogs("startup_script", Array.from({ length: 10 }, () => line("x".repeat(16_384))));
    expect(await counts(long)).toEqual([3, 3, 3, 1]);
    // Control characters grow 6x in JSON: the bound is on the encoded size.
    const escaped = new Outbox({ log: silentLogger, now: () => T, maxLogBatchBytes: 64 * 1024 });
    escaped.addLogs("startup_script", Array.from({ length: 4 }, () => line("\u0001".repeat(16_384))));
    expect(await counts(escaped)).toEqual([1, 1, 1, 1]);
  });

  it("puts log lines back when a write fails, and sends them on the next connection", async () => {
    const box = new Outbox({ log: silentLogger, now: () => T });
    const r = recorder();
    r.failOnce();
    box.attach(r.sink);
    box.addLogs("agent", [line("important")]);
    await tick();
    expect(r.sent).toEqual([]);
    const again = recorder();
    box.attach(again.sink);
    await tick();
    expect(again.sent.flatMap((m) => (m.type === "logs" ? m.lines.map((l) => l.output) : []))).toEqual(["important"]);
  });

  it("flush() resolves once everything was written, or false after the timeout", async () => {
    const box = new Outbox({ log: silentLogger, now: () => T });
    const r = recorder();
    box.attach(r.sink);
    const release = r.hold();
    box.setLifecycle("off");
    const timers: (() => void)[] = [];
    const stuck = box.flush(1000, (fn) => timers.push(fn));
    timers[0]!();
    expect(await stuck).toBe(false);
    const ok = box.flush(1000, (fn) => timers.push(fn));
    release();
    expect(await ok).toBe(true);
    expect(r.sent).toEqual([{ type: "lifecycle", state: "off", changed_at: new Date(T).toISOString() }]);
    box.detach();
    box.setLifecycle("ready");
    expect(await box.flush(1000, () => {})).toBe(true); // nothing connected: nothing to wait for
  });
});
