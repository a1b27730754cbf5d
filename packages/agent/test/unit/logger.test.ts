import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";

describe("agent logger", () => {
  it("writes one line per event: time, level, message, key=value fields (quoted when needed)", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), now: () => Date.UTC(2030, 0, 2, 3, 4, 5, 678) });
    log.info("connected to the server", { url: "http://127.0.0.1:3000", attempt: 3, ok: true, none: undefined });
    log.child({ component: "ssh" }).warn("two\nlines", { error: new Error('bad "thing"'), list: [1, 2] });
    expect(lines).toEqual([
      "2030-01-02T03:04:05.678Z INFO  connected to the server url=http://127.0.0.1:3000 attempt=3 ok=true\n",
      '2030-01-02T03:04:05.678Z WARN  two\\nlines component=ssh error="bad \\"thing\\"" list=[1,2]\n',
    ]);
  });

  it("drops lines below the level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", write: (l) => lines.push(l) });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => l.split(" ")[1])).toEqual(["WARN", "ERROR"]);
  });
});
