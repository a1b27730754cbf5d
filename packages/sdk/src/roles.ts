import { z } from "zod";

/** Site-wide roles. Every user is implicitly a member; the others are granted. */
export const SITE_ROLES = ["owner", "user-admin", "template-admin", "auditor", "member"] as const;
export type SiteRole = (typeof SITE_ROLES)[number];
export const SiteRoleSchema = z.enum(SITE_ROLES);

/** The roles that can be assigned (member is implicit). */
export const ASSIGNABLE_ROLES = ["owner", "user-admin", "template-admin", "auditor"] as const;
export const AssignableRoleSchema = z.enum(ASSIGNABLE_ROLES);
export type AssignableRole = (typeof ASSIGNABLE_ROLES)[number];
