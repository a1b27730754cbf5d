import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { generateHostKey } from "../../src/host-key.js";

describe("SSH host key", () => {
  it("is always a key ssh2 parses (its ed25519 generator alone fails about once in 200)", () => {
    for (let i = 0; i < 1000; i++) {
      const parsed = ssh2.utils.parseKey(generateHostKey());
      expect(parsed).not.toBeInstanceOf(Error);
      expect((parsed as { type: string }).type).toBe("ssh-ed25519");
    }
  });
});
