import { z } from "zod";

export { SESSION_TOKEN_HEADER } from "./wire-names.js";
export const SESSION_COOKIE = "outpost_session_token";
/** Browsers send this header on state-changing requests made with the session cookie; a cross-site form cannot. */
export const CSRF_HEADER = "X-Outpost-CSRF";

export const LoginRequestSchema = z.strictObject({
  email: z.string().min(1, "must not be empty").max(254),
  password: z.string().min(1, "must not be empty").max(256),
});
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

export const LoginResponseSchema = z.object({ session_token: z.string() });
export type LoginResponse = z.infer<typeof LoginResponseSchema>;
