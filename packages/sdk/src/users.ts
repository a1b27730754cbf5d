import { z } from "zod";
import { emailSchema, passwordSchema, usernameSchema } from "./names.js";
import { AssignableRoleSchema, SiteRoleSchema } from "./roles.js";
import { PaginationQuerySchema, pageSchema } from "./pagination.js";

export const UserStatusSchema = z.enum(["active", "suspended"]);
export type UserStatus = z.infer<typeof UserStatusSchema>;

export const displayNameSchema = z.string().max(128, "must be at most 128 characters");

export const UserSchema = z.object({
  id: z.string().uuid(),
  username: z.string(),
  email: z.string(),
  name: z.string(),
  status: UserStatusSchema,
  roles: z.array(SiteRoleSchema),
  login_type: z.enum(["password", "none"]),
  created_at: z.string(),
  updated_at: z.string(),
  last_seen_at: z.string().nullable(),
});
export type User = z.infer<typeof UserSchema>;

export const FirstUserStatusSchema = z.object({ setup_done: z.boolean() });
export type FirstUserStatus = z.infer<typeof FirstUserStatusSchema>;

export const CreateFirstUserRequestSchema = z.strictObject({
  email: emailSchema,
  username: usernameSchema,
  password: passwordSchema,
  name: displayNameSchema.optional(),
});
export type CreateFirstUserRequest = z.infer<typeof CreateFirstUserRequestSchema>;

export const CreateUserRequestSchema = z.strictObject({
  email: emailSchema,
  username: usernameSchema,
  password: passwordSchema,
  name: displayNameSchema.optional(),
  roles: z.array(AssignableRoleSchema).max(8).optional(),
});
export type CreateUserRequest = z.infer<typeof CreateUserRequestSchema>;

export const UpdateProfileRequestSchema = z.strictObject({
  username: usernameSchema.optional(),
  name: displayNameSchema.optional(),
});
export type UpdateProfileRequest = z.infer<typeof UpdateProfileRequestSchema>;

export const UpdatePasswordRequestSchema = z.strictObject({
  old_password: z.string().max(256).optional(),
  password: passwordSchema,
});
export type UpdatePasswordRequest = z.infer<typeof UpdatePasswordRequestSchema>;

export const UpdateRolesRequestSchema = z.strictObject({
  roles: z.array(AssignableRoleSchema).max(8),
});
export type UpdateRolesRequest = z.infer<typeof UpdateRolesRequestSchema>;

export const ListUsersQuerySchema = PaginationQuerySchema.extend({
  q: z.string().max(256).optional(),
  status: UserStatusSchema.optional(),
  role: SiteRoleSchema.optional(),
}).strict();
export type ListUsersQuery = Partial<z.output<typeof ListUsersQuerySchema>>;

export const UserPageSchema = pageSchema(UserSchema);
export type UserPage = z.infer<typeof UserPageSchema>;

/** A user is addressed by `me`, a username, or an id. */
export const UserParamSchema = z.strictObject({ user: z.string().min(1).max(64) });
