import { describe, expect, it } from "vitest";
import { BLOCK_END, BLOCK_START, renderBlock, splitConfig, withBlock } from "../../src/ssh-config.js";

const opts = { node: "/usr/bin/node", script: "/opt/outpost/dist/outpost.js", controlMaster: false, extraOptions: [], url: "http://127.0.0.1:3000" };
const USER = "Host github.com\n  User git\n\nServerAliveInterval 30\n";

describe("ssh config block", () => {
  it("renders an absolute ProxyCommand for outpost.* hosts", () => {
    const block = renderBlock(opts);
    expect(block.startsWith(BLOCK_START)).toBe(true);
    expect(block.trimEnd().endsWith(BLOCK_END)).toBe(true);
    expect(block).toContain("Host outpost.*\n  ProxyCommand /usr/bin/node /opt/outpost/dist/outpost.js ssh --stdio %h\n");
    expect(renderBlock({ ...opts, node: "/opt/my node/bin/node" })).toContain('ProxyCommand "/opt/my node/bin/node" ');
    expect(renderBlock({ ...opts, controlMaster: true })).toContain("  ControlMaster auto\n  ControlPath ~/.ssh/outpost-%C\n  ControlPersist 10m\n");
    expect(renderBlock({ ...opts, extraOptions: ["ForwardAgent yes"] })).toContain("  ForwardAgent yes\n");
  });

  it("appends to the user's file, rewrites only its own block, and is idempotent", () => {
    const once = withBlock(USER, renderBlock(opts));
    expect(once.startsWith(USER)).toBe(true);
    expect(withBlock(once, renderBlock(opts))).toBe(once);
    const changed = withBlock(once, renderBlock({ ...opts, controlMaster: true }));
    expect(changed.startsWith(USER)).toBe(true);
    expect(changed).toContain("ControlMaster auto");
    expect(changed.split(BLOCK_START)).toHaveLength(2);
    expect(withBlock("", renderBlock(opts))).toBe(renderBlock(opts));
  });

  it("keeps what follows the block and removes the block cleanly", () => {
    const middle = USER + "\n" + renderBlock(opts) + "\nHost later\n  User me\n";
    const replaced = withBlock(middle, renderBlock({ ...opts, url: "http://other" }));
    expect(replaced).toContain("Host later\n  User me\n");
    expect(replaced).toContain("# Deployment: http://other");
    expect(withBlock(withBlock(USER, renderBlock(opts)), undefined)).toBe(USER);
    expect(withBlock(renderBlock(opts), undefined)).toBe("");
  });

  it("refuses broken markers instead of guessing", () => {
    expect(() => splitConfig(`${BLOCK_START}\nHost x\n`)).toThrow("markers of the outpost block are broken");
    expect(() => splitConfig(`${BLOCK_END}\n${BLOCK_START}\n`)).toThrow("broken");
    expect(() => splitConfig(`${BLOCK_START}\n${BLOCK_START}\n${BLOCK_END}\n`)).toThrow("broken");
  });
});
