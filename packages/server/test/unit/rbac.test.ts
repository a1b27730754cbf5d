import { ASSIGNABLE_ROLES, SITE_ROLES, type SiteRole } from "@outpost/sdk/roles";
import { describe, expect, it } from "vitest";
import { authorize, canAssignRole, effectiveRoles, POLICY, type Action, type ResourceType, type Subject } from "../../src/services/rbac.js";

// Exhaustive lists: adding an action or resource type without listing it here fails the typecheck.
const ACTIONS = Object.keys({
  read: 1,
  create: 1,
  update: 1,
  update_password: 1,
  update_status: 1,
  assign_role: 1,
  delete: 1,
  build: 1,
  ssh: 1,
} satisfies Record<Action, 1>) as Action[];
const RESOURCES = Object.keys({
  user: 1,
  api_key: 1,
  audit_log: 1,
  deployment: 1,
  template: 1,
  file: 1,
  workspace: 1,
  provisioner_daemon: 1,
  provisioner_key: 1,
} satisfies Record<ResourceType, 1>) as ResourceType[];

const ME = "11111111-1111-4111-8111-111111111111";
const OTHER = "22222222-2222-4222-8222-222222222222";
const subject = (...roles: SiteRole[]): Subject => ({ userId: ME, username: "me", roles });

/**
 * The expected matrix, written out by hand (not derived from POLICY): for each role, the
 * "resource:action" pairs allowed on any object ("all") and on the subject's own objects ("own").
 * Every role is also a member, so the member grants apply to all of them.
 */
const MEMBER_OWN = [
  "user:read",
  "user:update",
  "user:update_password",
  "api_key:read",
  "api_key:create",
  "api_key:delete",
  "workspace:read",
  "workspace:create",
  "workspace:update",
  "workspace:build",
  "workspace:delete",
  "workspace:ssh",
];
const TEMPLATE_ALL = ["template:read", "template:create", "template:update", "template:update_password", "template:update_status", "template:assign_role", "template:delete", "template:build", "template:ssh"];
const FILE_ALL = ["file:read", "file:create", "file:update", "file:update_password", "file:update_status", "file:assign_role", "file:delete", "file:build", "file:ssh"];
const EXPECTED: Record<SiteRole, { all: string[] | "*"; own: string[] }> = {
  owner: { all: "*", own: [] },
  "user-admin": {
    all: ["user:read", "user:create", "user:update", "user:update_password", "user:update_status", "user:assign_role", "user:delete", "deployment:read", "template:read"],
    own: MEMBER_OWN,
  },
  "template-admin": { all: ["user:read", "deployment:read", ...TEMPLATE_ALL, ...FILE_ALL, "workspace:read", "provisioner_daemon:read", "template:read"], own: MEMBER_OWN },
  auditor: { all: ["audit_log:read", "user:read", "deployment:read", "template:read"], own: MEMBER_OWN },
  member: { all: ["template:read"], own: MEMBER_OWN },
};

function expected(role: SiteRole, resource: ResourceType, action: Action, mine: boolean): boolean {
  const e = EXPECTED[role];
  const pair = `${resource}:${action}`;
  return e.all === "*" || e.all.includes(pair) || (mine && e.own.includes(pair));
}

describe("authorize over the POLICY table", () => {
  it("has a policy for every site role", () => {
    expect(Object.keys(POLICY).sort()).toEqual([...SITE_ROLES].sort());
  });

  const cases = SITE_ROLES.flatMap((role) =>
    RESOURCES.flatMap((resource) => ACTIONS.flatMap((action) => [true, false].map((mine) => ({ role, resource, action, mine })))),
  );

  it(`matches the expected matrix (${cases.length} cases)`, () => {
    const wrong = cases
      .filter(({ role, resource, action, mine }) => authorize(subject(role), action, { type: resource, ownerId: mine ? ME : OTHER }) !== expected(role, resource, action, mine))
      .map(({ role, resource, action, mine }) => `${role} ${action} ${mine ? "own" : "other's"} ${resource}: expected ${expected(role, resource, action, mine)}`);
    expect(wrong).toEqual([]);
    // The matrix is not trivially all-true or all-false.
    const allowed = cases.filter((c) => expected(c.role, c.resource, c.action, c.mine)).length;
    expect(allowed).toBeGreaterThan(50);
    expect(allowed).toBeLessThan(cases.length - 50);
  });

  it("denies 'own' grants when the object names no owner", () => {
    expect(authorize(subject("member"), "read", { type: "user" })).toBe(false);
    expect(authorize(subject("member"), "create", { type: "api_key" })).toBe(false);
    expect(authorize(subject("auditor"), "read", { type: "user" })).toBe(true);
  });

  it("treats every user as a member, whether or not member is listed", () => {
    expect(effectiveRoles(subject())).toEqual(["member"]);
    expect(effectiveRoles(subject("auditor"))).toEqual(["auditor", "member"]);
    expect(effectiveRoles(subject("member", "auditor"))).toEqual(["member", "auditor"]);
    expect(authorize(subject(), "create", { type: "api_key", ownerId: ME })).toBe(true);
    expect(authorize(subject(), "delete", { type: "api_key", ownerId: OTHER })).toBe(false);
  });

  it("combines the grants of several roles", () => {
    const both = subject("auditor", "template-admin");
    expect(authorize(both, "read", { type: "audit_log" })).toBe(true);
    expect(authorize(both, "update_status", { type: "user", ownerId: OTHER })).toBe(false);
    expect(authorize(subject("auditor", "user-admin"), "update_status", { type: "user", ownerId: OTHER })).toBe(true);
  });

  it("never lets a member change its own status or roles, or delete itself", () => {
    for (const action of ["update_status", "assign_role", "delete"] as const) {
      expect(authorize(subject("member"), action, { type: "user", ownerId: ME }), action).toBe(false);
    }
  });
});

describe("canAssignRole", () => {
  it("lets owners assign every role", () => {
    for (const role of ASSIGNABLE_ROLES) expect(canAssignRole(subject("owner"), role), role).toBe(true);
  });

  it("lets user admins assign every role except owner (no escalation)", () => {
    for (const role of ASSIGNABLE_ROLES) expect(canAssignRole(subject("user-admin"), role), role).toBe(role !== "owner");
  });

  it.each(["template-admin", "auditor", "member"] as const)("lets %s assign no role", (r) => {
    for (const role of ASSIGNABLE_ROLES) expect(canAssignRole(subject(r), role), role).toBe(false);
  });

  it("grants the union for users with several roles", () => {
    expect(canAssignRole(subject("auditor", "user-admin"), "auditor")).toBe(true);
    expect(canAssignRole(subject("auditor", "user-admin"), "owner")).toBe(false);
    expect(canAssignRole(subject("template-admin", "owner"), "owner")).toBe(true);
  });
});
