import { z } from "zod";
import { NAME_PATTERN } from "./wire-names.js";

/** Usernames and other resource names: lowercase letters, digits and single dashes, like Coder's name rule. */
export { NAME_PATTERN };

export const usernameSchema = z
  .string()
  .min(1, "must not be empty")
  .max(32, "must be at most 32 characters")
  .regex(NAME_PATTERN, "must be lowercase letters, digits and single dashes, starting and ending with a letter or digit");

export const emailSchema = z.string().max(254, "must be at most 254 characters").email("must be a valid email address");

export const PASSWORD_MIN_LENGTH = 8;

/** A password must be long enough and not trivially guessable; the reason is returned for the error detail. */
export function passwordWeakness(password: string, related: string[] = []): string | undefined {
  if (password.length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > 256) return "must be at most 256 characters";
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((re) => re.test(password)).length;
  if (new Set(password).size < 4) return "must use at least 4 different characters";
  if (classes < 2 && password.length < 16) return "must mix letters with digits or symbols (or be 16+ characters)";
  const lower = password.toLowerCase();
  for (const r of related) if (r.length >= 3 && lower.includes(r.toLowerCase())) return "must not contain your username or email";
  return undefined;
}

export const passwordSchema = z.string().superRefine((value, ctx) => {
  const weakness = passwordWeakness(value);
  if (weakness) ctx.addIssue({ code: "custom", message: weakness });
});
