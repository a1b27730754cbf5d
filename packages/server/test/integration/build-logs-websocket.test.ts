import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetClient } from "@outpost/sdk/client-fleet";
import { PARAMS_TEMPLATE, daemonClient, tarOf, userClient } from "../helpers/fleet.js";
import { createTestServer, setupOwner, type TestServer } from "../helpers/test-server.js";
import { refusal } from "../helpers/ws.js";

let s: TestServer;
let owner: FleetClient;
let daemon: FleetClient;
let daemonId: string;

interface Message {
  type: "log" | "end" | "error";
  log?: { id: number; output: string };
  job?: { status: string };
  error?: { code: string };
}

/** Opens the live log socket and collects messages until it closes. */
function collect(url: string, headers: Record<string, string>): { messages: Message[]; opened: Promise<void>; closed: Promise<{ code: number }> } {
  const ws = new WebSocket(url, { headers });
  const messages: Message[] = [];
  ws.on("message", (d) => messages.push(JSON.parse(String(d)) as Message));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.once("close", (code) => resolve({ code })));
  return { messages, opened, closed };
}

beforeAll(async () => {
  s = await createTestServer({ listen: true });
  owner = userClient(s, await setupOwner(s));
  daemon = daemonClient(s);
  daemonId = (await daemon.registerDaemon({ name: "ws-test" })).id;
  const { hash } = await owner.uploadFile(tarOf({ "template.ts": "export default 1;\n" }));
  await owner.createTemplateVersion("dev", { file_hash: hash });
  const job = await daemon.acquireJob(daemonId, 0);
  await daemon.completeJob(job!.id, { import: { parameters: PARAMS_TEMPLATE, resources: [] } });
});
afterAll(async () => s?.close());

describe("build logs over WebSocket", () => {
  it("streams live lines, replays from an offset, and ends with the job", async () => {
    const ws = await owner.createWorkspace("me", { name: "live", template: "dev" });
    const job = (await daemon.acquireJob(daemonId, 0))!;
    await daemon.appendJobLogs(job.id, [{ stage: "Applying", level: "info", output: "first" }]);
    const base = `${s.url.replace("http", "ws")}/api/v2/workspacebuilds/${ws.latest_build.id}/logs`;
    const live = collect(`${base}?after=0`, { "Outpost-Session-Token": owner.token! });
    await live.opened;
    await new Promise((r) => setTimeout(r, 200));
    await daemon.appendJobLogs(job.id, [{ stage: "Applying", level: "info", output: "second" }]);
    await new Promise((r) => setTimeout(r, 200));
    await daemon.completeJob(job.id, { build: { state: [] } });
    expect((await live.closed).code).toBe(1000);
    expect(live.messages.filter((m) => m.type === "log").map((m) => m.log!.output)).toEqual(["first", "second"]);
    expect(live.messages.at(-1)).toMatchObject({ type: "end", job: { status: "succeeded" } });

    const firstId = live.messages[0]!.log!.id;
    const replay = collect(`${base}?after=${firstId}`, { "Outpost-Session-Token": owner.token! });
    expect((await replay.closed).code).toBe(1000);
    expect(replay.messages.filter((m) => m.type === "log").map((m) => m.log!.output)).toEqual(["second"]);
  });

  it("refuses a missing session, a foreign origin with the cookie, and a bad offset before the upgrade, in the API error shape", async () => {
    const build = (await owner.listWorkspaces()).items[0]!.latest_build.id;
    const url = `${s.url.replace("http", "ws")}/api/v2/workspacebuilds/${build}/logs`;
    expect(await refusal(url)).toMatchObject({ status: 401, error: { code: "UNAUTHENTICATED" } });
    const cookie = `outpost_session_token=${owner.token}`;
    expect(await refusal(url, { cookie, origin: "http://evil.example" })).toMatchObject({ status: 403, error: { code: "FORBIDDEN", message: "CSRF check failed" } });
    const sameSite = collect(url, { cookie, origin: s.url });
    expect((await sameSite.closed).code).toBe(1000);
    const bad = await refusal(`${url}?after=-1`, { "Outpost-Session-Token": owner.token! });
    expect(bad).toMatchObject({ status: 400, error: { code: "INVALID_INPUT", validations: [{ field: "query.after" }] } });
    expect(await refusal(`${s.url.replace("http", "ws")}/api/v2/workspacebuilds/${randomUUID()}/logs`, { "Outpost-Session-Token": owner.token! })).toMatchObject({ status: 404 });
  });

});
