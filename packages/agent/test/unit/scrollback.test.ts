import { describe, expect, it } from "vitest";
import { Scrollback } from "../../src/scrollback.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("terminal scrollback ring buffer", () => {
  it("keeps everything until full, then the last `capacity` bytes, in order", () => {
    const sb = new Scrollback(8);
    expect(text(sb.snapshot())).toBe("");
    sb.write(bytes("abc"));
    sb.write(bytes("def"));
    expect(text(sb.snapshot())).toBe("abcdef");
    sb.write(bytes("ghij"));
    expect(text(sb.snapshot())).toBe("cdefghij");
    expect(sb.size).toBe(8);
    sb.write(bytes("k"));
    expect(text(sb.snapshot())).toBe("defghijk");
    for (const c of "lmnopqrstu") sb.write(bytes(c));
    expect(text(sb.snapshot())).toBe("nopqrstu");
  });

  it("a chunk as large as the buffer or larger replaces it", () => {
    const sb = new Scrollback(4);
    sb.write(bytes("ab"));
    sb.write(bytes("0123456789"));
    expect(text(sb.snapshot())).toBe("6789");
    sb.write(bytes("wxyz"));
    expect(text(sb.snapshot())).toBe("wxyz");
    sb.write(bytes("!"));
    expect(text(sb.snapshot())).toBe("xyz!");
  });

  it("snapshots are copies: later writes do not change them", () => {
    const sb = new Scrollback(4);
    sb.write(bytes("abcd"));
    const snap = sb.snapshot();
    sb.write(bytes("efgh"));
    expect(text(snap)).toBe("abcd");
  });

  it("once bytes were dropped, the replay does not start in the middle of a UTF-8 character", () => {
    const sb = new Scrollback(7);
    sb.write(bytes("ab€€")); // € is 3 bytes: 8 bytes, the first one dropped
    expect(text(sb.snapshot())).toBe("b€€");
    sb.write(bytes("cd")); // drops "b" and the first byte of the first €
    expect(text(sb.snapshot())).toBe("€cd");
  });

  it("keeps 64 KiB by default, like coder's reconnecting PTY", () => {
    const sb = new Scrollback();
    expect(sb.capacity).toBe(65_536);
    sb.write(new Uint8Array(100_000).fill(120));
    expect(sb.snapshot().length).toBe(65_536);
  });
});
