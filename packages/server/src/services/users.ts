import { passwordWeakness } from "@outpost/sdk/names";
import type { AssignableRole, SiteRole } from "@outpost/sdk/roles";
import type {
  CreateFirstUserRequest,
  CreateUserRequest,
  ListUsersQuery,
  UpdatePasswordRequest,
  UpdateProfileRequest,
  User,
  UserPage,
} from "@outpost/sdk/users";
import { ListUsersQuerySchema } from "@outpost/sdk/users";
import { withTx } from "../db/pool.js";
import { deleteUserApiKeys, deleteUserSessions } from "../db/queries/api-keys.js";
import * as q from "../db/queries/users.js";
import type { UserRow } from "../db/queries/users.js";
import { ApiError, conflictIfTaken, forbidden, invalidField, notFound } from "../errors.js";
import type { AuditSink } from "./audit.js";
import { toUser } from "./convert.js";
import type { Deps } from "./deps.js";
import { hashPassword, verifyPassword } from "./passwords.js";
import { authorize, canAssignRole, type Action, type Subject } from "./rbac.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function subjectOf(user: UserRow): Subject {
  return { userId: user.id, username: user.username, roles: user.roles as SiteRole[] };
}

function checkPasswordStrength(password: string, username: string, email: string): void {
  const weakness = passwordWeakness(password, [username, email.split("@")[0] ?? ""]);
  if (weakness) throw invalidField("password", weakness, "password is too weak");
}

export async function isSetupDone(deps: Deps): Promise<boolean> {
  return (await q.countUsers(deps.db)) > 0;
}

/** Creates the site owner. Concurrent calls serialise on a table lock: exactly one wins, the rest get 409. */
export async function createFirstUser(deps: Deps, req: CreateFirstUserRequest, audit: AuditSink): Promise<User> {
  checkPasswordStrength(req.password, req.username, req.email);
  const hashed = await hashPassword(req.password);
  const row = await withTx(deps.db, async (tx) => {
    await q.lockUsersTable(tx);
    if ((await q.countUsers(tx)) > 0) throw new ApiError("CONFLICT", "the first user has already been created", "log in instead, or ask an owner to create your account");
    return q.insertUser(tx, { username: req.username, email: req.email, name: req.name ?? "", hashedPassword: hashed, roles: ["owner"] });
  });
  audit.set({ action: "register", resourceType: "user", resourceId: row.id, resourceName: row.username, new: row, userId: row.id });
  return toUser(row);
}

/** Finds a user by `me`, id or username; answers 404 when missing or not readable by the subject. */
export async function resolveUser(deps: Deps, subject: Subject, ref: string): Promise<UserRow> {
  const id = ref === "me" ? subject.userId : undefined;
  const row = id ? await q.getUserById(deps.db, id) : UUID.test(ref) ? await q.getUserById(deps.db, ref) : await q.getUserByUsername(deps.db, ref);
  if (!row || !authorize(subject, "read", { type: "user", ownerId: row.id })) throw notFound("user");
  return row;
}

/** Readable but not allowed answers 403; changing an owner takes an owner. */
function requireOnUser(subject: Subject, action: Action, target: UserRow): void {
  if (!authorize(subject, action, { type: "user", ownerId: target.id })) throw forbidden(`you may not ${action.replace("_", " ")} this user`);
  if (target.roles.includes("owner") && target.id !== subject.userId && !subject.roles.includes("owner")) {
    throw forbidden("only an owner may change another owner");
  }
}

export async function createUser(deps: Deps, subject: Subject, req: CreateUserRequest, audit: AuditSink): Promise<User> {
  if (!authorize(subject, "create", { type: "user" })) throw forbidden("you may not create users");
  const roles = [...new Set(req.roles ?? [])];
  for (const role of roles) if (!canAssignRole(subject, role)) throw forbidden(`you may not grant the ${role} role`);
  checkPasswordStrength(req.password, req.username, req.email);
  const hashed = await hashPassword(req.password);
  try {
    const row = await q.insertUser(deps.db, { username: req.username, email: req.email, name: req.name ?? "", hashedPassword: hashed, roles });
    audit.set({ action: "create", resourceType: "user", resourceId: row.id, resourceName: row.username, new: row });
    return toUser(row);
  } catch (err) {
    const constraint = (err as { constraint?: string }).constraint;
    return conflictIfTaken(err, constraint === "users_email_key" ? "email" : "username", constraint === "users_email_key" ? req.email : req.username);
  }
}

export async function listUsers(deps: Deps, subject: Subject, query: ListUsersQuery): Promise<UserPage> {
  const f = ListUsersQuerySchema.parse(query);
  // Someone who may not read all users sees only themselves (filters still apply), not an error.
  const onlyId = authorize(subject, "read", { type: "user" }) ? undefined : subject.userId;
  const { rows, count } = await q.listUsers(deps.db, { search: f.q, status: f.status, role: f.role, onlyId, limit: f.limit, offset: f.offset });
  return { items: rows.map(toUser), count };
}

export async function updateProfile(deps: Deps, subject: Subject, target: UserRow, req: UpdateProfileRequest, audit: AuditSink): Promise<User> {
  requireOnUser(subject, "update", target);
  const username = req.username ?? target.username;
  try {
    const row = await q.updateUserProfile(deps.db, target.id, { username, name: req.name ?? target.name });
    audit.set({ action: "write", resourceType: "user", resourceId: row.id, resourceName: row.username, old: target, new: row });
    return toUser(row);
  } catch (err) {
    return conflictIfTaken(err, "username", username);
  }
}

export async function updatePassword(
  deps: Deps,
  subject: Subject,
  target: UserRow,
  req: UpdatePasswordRequest,
  currentKeyId: string | undefined,
  audit: AuditSink,
): Promise<void> {
  requireOnUser(subject, "update_password", target);
  if (target.id === subject.userId) {
    if (!req.old_password) throw invalidField("old_password", "is required to change your own password");
    if (!(await verifyPassword(target.hashed_password, req.old_password))) throw invalidField("old_password", "is incorrect");
  }
  checkPasswordStrength(req.password, target.username, target.email);
  const hashed = await hashPassword(req.password);
  await withTx(deps.db, async (tx) => {
    await q.updateUserPassword(tx, target.id, hashed);
    // A new password ends every other login session of that user.
    await deleteUserSessions(tx, target.id, target.id === subject.userId ? currentKeyId : undefined);
  });
  audit.set({ action: "write", resourceType: "user", resourceId: target.id, resourceName: target.username, old: { hashed_password: target.hashed_password }, new: { hashed_password: hashed } });
}

export async function setStatus(deps: Deps, subject: Subject, target: UserRow, status: "active" | "suspended", audit: AuditSink): Promise<User> {
  requireOnUser(subject, "update_status", target);
  if (target.id === subject.userId) throw new ApiError("INVALID_INPUT", `you cannot ${status === "suspended" ? "suspend" : "activate"} yourself`);
  const row = await q.updateUserStatus(deps.db, target.id, status);
  if (status === "suspended") await deleteUserSessions(deps.db, target.id);
  audit.set({ action: "write", resourceType: "user", resourceId: row.id, resourceName: row.username, old: target, new: row });
  return toUser(row);
}

export async function setRoles(deps: Deps, subject: Subject, target: UserRow, roles: AssignableRole[], audit: AuditSink): Promise<User> {
  requireOnUser(subject, "assign_role", target);
  if (target.id === subject.userId) throw new ApiError("INVALID_INPUT", "you cannot change your own roles", "ask another owner or user admin");
  const next = [...new Set(roles)].sort();
  const before = target.roles as AssignableRole[];
  const changed = [...next.filter((r) => !before.includes(r)), ...before.filter((r) => !next.includes(r))];
  for (const role of changed) if (!canAssignRole(subject, role)) throw forbidden(`you may not grant or revoke the ${role} role`);
  const row = await q.updateUserRoles(deps.db, target.id, next);
  audit.set({ action: "write", resourceType: "user", resourceId: row.id, resourceName: row.username, old: target, new: row });
  return toUser(row);
}

export async function deleteUser(deps: Deps, subject: Subject, target: UserRow, audit: AuditSink): Promise<void> {
  requireOnUser(subject, "delete", target);
  if (target.id === subject.userId) throw new ApiError("INVALID_INPUT", "you cannot delete yourself");
  await withTx(deps.db, async (tx) => {
    await q.softDeleteUser(tx, target.id);
    await deleteUserApiKeys(tx, target.id);
  });
  audit.set({ action: "delete", resourceType: "user", resourceId: target.id, resourceName: target.username, old: target });
}
