import type { AssignableRole, SiteRole } from "@outpost/sdk/roles";

/** Who is asking: a user and their site roles (member is implied). */
export interface Subject {
  userId: string;
  username: string;
  roles: SiteRole[];
}

export type ResourceType = "user" | "api_key" | "audit_log" | "deployment" | "template" | "file" | "workspace" | "provisioner_daemon" | "provisioner_key";
/** `ssh` on a workspace: reach inside it through its agent (SSH, port forwarding, terminals). */
export type Action = "read" | "create" | "update" | "update_password" | "update_status" | "assign_role" | "delete" | "build" | "ssh";

/** What is being acted on. `ownerId` lets "own" grants apply (a user owns itself and its keys). */
export interface AuthzObject {
  type: ResourceType;
  ownerId?: string;
}

interface Grant {
  resource: ResourceType | "*";
  actions: readonly Action[] | "*";
  scope: "all" | "own";
}

/** The policy table: every permission in the system is one row here. */
export const POLICY: Record<SiteRole, readonly Grant[]> = {
  owner: [{ resource: "*", actions: "*", scope: "all" }],
  "user-admin": [
    { resource: "user", actions: ["read", "create", "update", "update_password", "update_status", "assign_role", "delete"], scope: "all" },
    { resource: "deployment", actions: ["read"], scope: "all" },
  ],
  "template-admin": [
    { resource: "user", actions: ["read"], scope: "all" },
    { resource: "deployment", actions: ["read"], scope: "all" },
    { resource: "template", actions: "*", scope: "all" },
    { resource: "file", actions: "*", scope: "all" },
    { resource: "workspace", actions: ["read"], scope: "all" },
    { resource: "provisioner_daemon", actions: ["read"], scope: "all" },
  ],
  auditor: [
    { resource: "audit_log", actions: ["read"], scope: "all" },
    { resource: "user", actions: ["read"], scope: "all" },
    { resource: "deployment", actions: ["read"], scope: "all" },
    { resource: "template", actions: ["read"], scope: "all" },
  ],
  member: [
    { resource: "user", actions: ["read", "update", "update_password"], scope: "own" },
    { resource: "api_key", actions: ["read", "create", "delete"], scope: "own" },
    // Every user may see templates (to create workspaces from them) and run their own workspaces.
    { resource: "template", actions: ["read"], scope: "all" },
    // Only the owner gets inside a workspace (site owners too, through their "*"); template admins may
    // read every workspace but not enter them.
    { resource: "workspace", actions: ["read", "create", "update", "build", "delete", "ssh"], scope: "own" },
  ],
};

export function effectiveRoles(subject: Subject): SiteRole[] {
  return subject.roles.includes("member") ? subject.roles : [...subject.roles, "member"];
}

/** The one decision point: may `subject` do `action` to `object`? */
export function authorize(subject: Subject, action: Action, object: AuthzObject): boolean {
  for (const role of effectiveRoles(subject)) {
    for (const g of POLICY[role]) {
      if (g.resource !== "*" && g.resource !== object.type) continue;
      if (g.actions !== "*" && !g.actions.includes(action)) continue;
      if (g.scope === "own" && object.ownerId !== subject.userId) continue;
      return true;
    }
  }
  return false;
}

/** Owners may grant any role; user admins every role but owner (no privilege escalation). */
export function canAssignRole(subject: Subject, role: AssignableRole): boolean {
  if (subject.roles.includes("owner")) return true;
  return role !== "owner" && authorize(subject, "assign_role", { type: "user" });
}
