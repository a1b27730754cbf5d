import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CliError } from "../../src/context.js";
import { relayUrl } from "../../src/relay.js";
import { parseSshHost, parseWorkspaceTarget, sshHostOf, targetLabel } from "../../src/workspace-target.js";

function refusal(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error("expected a CliError");
}

describe("workspace targets", () => {
  it("parses [OWNER/]NAME[.AGENT]", () => {
    expect(parseWorkspaceTarget("dev")).toEqual({ owner: "me", name: "dev" });
    expect(parseWorkspaceTarget("dev.main")).toEqual({ owner: "me", name: "dev", agent: "main" });
    expect(parseWorkspaceTarget("kim/dev")).toEqual({ owner: "kim", name: "dev" });
    expect(parseWorkspaceTarget("kim/dev-2.side--car")).toEqual({ owner: "kim", name: "dev-2", agent: "side--car" });
    expect(parseWorkspaceTarget("me/dev")).toEqual({ owner: "me", name: "dev" });
  });

  it("parses the SSH host form outpost.[OWNER--]NAME[.AGENT], in any case, on both entry points", () => {
    expect(parseSshHost("outpost.dev")).toEqual({ owner: "me", name: "dev" });
    expect(parseSshHost("outpost.kim--dev")).toEqual({ owner: "kim", name: "dev" });
    expect(parseSshHost("outpost.kim--dev.main")).toEqual({ owner: "kim", name: "dev", agent: "main" });
    expect(parseSshHost("Outpost.Kim--Dev.Main")).toEqual({ owner: "kim", name: "dev", agent: "main" });
    expect(parseWorkspaceTarget("outpost.a-b--c-d.e--f")).toEqual({ owner: "a-b", name: "c-d", agent: "e--f" });
  });

  it("round-trips through sshHostOf and labels targets for messages", () => {
    for (const t of [{ owner: "me", name: "dev" }, { owner: "kim", name: "dev" }, { owner: "me", name: "dev", agent: "main" }, { owner: "kim", name: "a-1", agent: "x--y" }]) {
      expect(parseSshHost(sshHostOf(t))).toEqual(t);
      expect(parseWorkspaceTarget(targetLabel(t))).toEqual(t);
    }
    expect(sshHostOf({ owner: "kim", name: "dev", agent: "main" })).toBe("outpost.kim--dev.main");
    expect(targetLabel({ owner: "kim", name: "dev" })).toBe("kim/dev");
  });

  it("refuses malformed targets with exit 2, naming the part that is wrong and the accepted forms", () => {
    const cases: [string, string][] = [
      ["a/b/c", 'more than one "/"'],
      ["Dev", '"Dev" is not a workspace name'],
      ["dev.", "nothing after the dot"],
      ["dev.Main", '"Main" is not an agent name'],
      ["dev.a.b", '"a.b" is not an agent name'],
      ["Kim!/dev", 'owner "Kim!" is not a username'],
      ["", '"" is not a workspace name'],
      ["outpost.", '"" is not a workspace name'],
      ["outpost.a--b--c", '"--" may appear once'],
      ["outpost.--dev", 'owner "" is not a username'],
      ["dev--x", '"dev--x" is not a workspace name'],
    ];
    for (const [value, why] of cases) {
      const err = refusal(() => parseWorkspaceTarget(value));
      expect(err.exitCode, value).toBe(2);
      expect(err.message, value).toContain(why);
      expect(err.detail[0]).toBe("use NAME, NAME.AGENT, OWNER/NAME or OWNER/NAME.AGENT");
    }
    expect(refusal(() => parseSshHost("dev")).message).toContain('an SSH host must start with "outpost."');
  });

  it("takes its name rules and relay names from the sdk's zod-free module (the ProxyCommand loads no zod)", () => {
    const source = readFileSync(new URL("../../../sdk/src/wire-names.ts", import.meta.url), "utf8");
    expect(source).not.toMatch(/^\s*import\s/m);
  });

  it("builds relay URLs with the kind, port and agent", () => {
    expect(relayUrl("http://127.0.0.1:3000/", { owner: "me", name: "dev" }, { kind: "ssh" })).toBe("ws://127.0.0.1:3000/api/v2/users/me/workspaces/dev/connect?kind=ssh");
    expect(relayUrl("https://outpost.example.com", { owner: "kim", name: "dev", agent: "main" }, { kind: "tcp", port: 8080 })).toBe(
      "wss://outpost.example.com/api/v2/users/kim/workspaces/dev/connect?kind=tcp&port=8080&agent=main",
    );
  });
});
