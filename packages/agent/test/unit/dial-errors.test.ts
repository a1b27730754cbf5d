// What the agent logs when the server refuses it: the API error body or a 4000+status close code
// becomes a sentence that says what happened and what fixes it.
import { describe, expect, it } from "vitest";
import { AGENT_API_VERSION } from "@outpost/sdk/agents";
import { closeReason } from "../../src/connection.js";
import { refusal, rpcUrl } from "../../src/dial.js";

describe("refused connections, explained", () => {
  it("401: the token was revoked because the workspace was stopped or rebuilt", () => {
    const e = refusal(401, JSON.stringify({ code: "UNAUTHENTICATED", message: "invalid agent token", detail: "the workspace was stopped" }));
    expect(e).toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
    expect(e.message).toMatch(/refused the agent token \(HTTP 401, invalid agent token: the workspace was stopped\)/);
    expect(e.message).toMatch(/stopped or rebuilt/);
  });

  it("426: names both API versions (from the header, else from the message)", () => {
    const body = JSON.stringify({ code: "PRECONDITION_FAILED", message: "agent API version 7 is not supported", detail: "this server speaks version 2" });
    expect(refusal(426, body, "2").message).toMatch(new RegExp(`server speaks agent API version 2 and this agent version ${AGENT_API_VERSION}`));
    // The real server's wording: the agent's version first, then the server's.
    const real = JSON.stringify({ code: "UPGRADE_REQUIRED", message: `agent protocol version 7 does not match the server's version 3: run the agent this server serves at http://x/bin/outpost-agent-linux-amd64` });
    expect(refusal(426, real).message).toMatch(new RegExp(`server speaks agent API version 3 and this agent version ${AGENT_API_VERSION}`));
  });

  it("a body that is not JSON (a proxy page) is quoted as text", () => {
    expect(refusal(502, "<html>Bad Gateway</html>").message).toBe("the server refused the connection (HTTP 502, <html>Bad Gateway</html>)");
    expect(refusal(404, "").message).toMatch(/no agent endpoint .* is OUTPOST_AGENT_URL the Outpost server's address/);
  });

  it("close codes 4000+status carry the same explanations", () => {
    expect(closeReason(4401, JSON.stringify({ message: "invalid agent token" }))).toMatch(/HTTP 401, invalid agent token.*stopped or rebuilt/);
    expect(closeReason(4426, "agent API version mismatch")).toMatch(/HTTP 426/);
    expect(closeReason(1001, "server restarting")).toBe("websocket closed (code 1001, server restarting)");
    expect(closeReason(1006, "")).toBe("websocket closed (code 1006)");
  });

  it("builds the RPC URL from the server URL with or without a trailing slash", () => {
    expect(rpcUrl("http://127.0.0.1:3000")).toBe("http://127.0.0.1:3000/api/v2/workspaceagents/me/rpc");
    expect(rpcUrl("https://outpost.example/")).toBe("https://outpost.example/api/v2/workspaceagents/me/rpc");
  });
});
