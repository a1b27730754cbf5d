import { describe, expect, it } from "vitest";
import type { AgentLogLine } from "@outpost/sdk/agents";
import { LineSplitter, LogBatcher, MAX_LOG_LINE } from "../../src/log-lines.js";
import { FakeClock } from "../../../sdk/test/unit/mux-pair.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("process output as log lines", () => {
  it("splits on LF, CRLF and lone CR, across chunk boundaries, and keeps the unterminated tail for end()", () => {
    const s = new LineSplitter();
    expect(s.push(enc("one\ntw"))).toEqual(["one"]);
    expect(s.push(enc("o\r"))).toEqual([]); // maybe the first half of CRLF
    expect(s.push(enc("\nthree\r50%\r100%\n\nlast"))).toEqual(["two", "three", "50%", "100%", ""]);
    expect(s.end()).toEqual(["last"]);
    expect(s.end()).toEqual([]);
  });

  it("decodes UTF-8 characters split between chunks", () => {
    const s = new LineSplitter();
    const bytes = enc("héllo €\n");
    const out: string[] = [];
    for (const b of bytes) out.push(...s.push(Uint8Array.of(b)));
    expect(out).toEqual(["héllo €"]);
  });

  it("splits lines longer than 16 KiB (the protocol's limit), also before their newline arrives", () => {
    const s = new LineSplitter();
    expect(MAX_LOG_LINE).toBe(16_384);
    const out = s.push(enc("a".repeat(40_000)));
    expect(out.map((l) => l.length)).toEqual([16_384, 16_384]);
    expect(s.push(enc("\n"))).toEqual(["a".repeat(40_000 - 32_768)]);
    const small = new LineSplitter(4);
    expect(small.push(enc("abcdefghij\n"))).toEqual(["abcd", "efgh", "ij"]);
    expect(small.push(enc("abc😀d\n"))).toEqual(["abc", "😀d"]); // a surrogate pair is never cut
  });

  it("batches lines: one message per interval, at once at 1000 lines, flush() sends the rest", () => {
    const clock = new FakeClock(Date.UTC(2030, 0, 1));
    const sent: AgentLogLine[][] = [];
    const b = new LogBatcher({ clock, send: (l) => sent.push(l) });
    b.add("info", "a");
    clock.advance(100);
    b.add("warn", "b");
    expect(sent).toEqual([]);
    clock.advance(150);
    expect(sent).toEqual([[
      { created_at: new Date(clock.now() - 250).toISOString(), level: "info", output: "a" },
      { created_at: new Date(clock.now() - 150).toISOString(), level: "warn", output: "b" },
    ]]);
    for (let i = 0; i < 1500; i++) b.add("info", String(i));
    expect(sent.map((x) => x.length)).toEqual([2, 1000]);
    b.flush();
    expect(sent.map((x) => x.length)).toEqual([2, 1000, 500]);
    b.flush();
    expect(sent).toHaveLength(3);
    expect(clock.pending).toBe(0);
  });
});
