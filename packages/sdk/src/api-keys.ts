import { z } from "zod";
import { NAME_PATTERN } from "./names.js";

/** API keys are `ID-SECRET`; only a hash of the secret is stored. */
export const API_KEY_ID_LENGTH = 10;
export const API_KEY_SECRET_LENGTH = 22;
export const API_KEY_PATTERN = /^([a-zA-Z0-9]{10})-([a-zA-Z0-9]{22})$/;

export const ApiKeySchema = z.object({
  id: z.string(),
  user_id: z.string().uuid(),
  name: z.string(),
  login_type: z.enum(["password", "token"]),
  created_at: z.string(),
  expires_at: z.string(),
  last_used_at: z.string().nullable(),
  lifetime_seconds: z.number().int(),
});
export type ApiKey = z.infer<typeof ApiKeySchema>;

export const tokenNameSchema = z
  .string()
  .min(1, "must not be empty")
  .max(32, "must be at most 32 characters")
  .regex(NAME_PATTERN, "must be lowercase letters, digits and single dashes");

export const CreateTokenRequestSchema = z.strictObject({
  name: tokenNameSchema,
  lifetime_seconds: z.number().int("must be a whole number of seconds").min(60, "must be at least 60 seconds").optional(),
});
export type CreateTokenRequest = z.infer<typeof CreateTokenRequestSchema>;

export const CreateTokenResponseSchema = z.object({ key: z.string(), token: ApiKeySchema });
export type CreateTokenResponse = z.infer<typeof CreateTokenResponseSchema>;

export const ApiKeyListSchema = z.array(ApiKeySchema);
