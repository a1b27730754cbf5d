import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestServer, createUserWithRoles, setupOwner, type TestServer } from "../helpers/test-server.js";

let s: TestServer;
let owner: string;
let member: string;
beforeAll(async () => {
  s = await createTestServer();
  owner = await setupOwner(s);
  member = (await createUserWithRoles(s, owner, "mia", [])).token;
  await createUserWithRoles(s, owner, "max", ["auditor"]);
});
afterAll(async () => s?.close());

const list = async (token: string, query: string) => (await s.request({ method: "GET", url: `/api/v2/users?${query}`, token })).json() as { items: { username: string }[]; count: number };

describe("user list", () => {
  it("lets an admin search, filter by role and page", async () => {
    expect((await list(owner, "")).items.map((u) => u.username)).toEqual(["max", "mia", "owner"]);
    expect((await list(owner, "q=MI")).items.map((u) => u.username)).toEqual(["mia"]);
    expect((await list(owner, "role=auditor")).items.map((u) => u.username)).toEqual(["max"]);
    const page = await list(owner, "limit=1&offset=1");
    expect(page).toMatchObject({ count: 3, items: [{ username: "mia" }] });
    // LIKE wildcards in the search are literal.
    expect((await list(owner, "q=%25")).count).toBe(0);
  });

  it("shows a member only themselves, with the filters still applied", async () => {
    expect(await list(member, "")).toMatchObject({ count: 1, items: [{ username: "mia" }] });
    expect(await list(member, "q=nobody")).toEqual({ count: 0, items: [] });
    expect(await list(member, "status=suspended")).toEqual({ count: 0, items: [] });
    expect(await list(member, "q=max")).toEqual({ count: 0, items: [] });
  });
});
