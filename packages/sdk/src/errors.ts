import { z } from "zod";

/** Every error the API returns carries one of these codes; the HTTP status follows from it. */
export const ERROR_STATUS = {
  INVALID_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  /** A WebSocket endpoint called without an upgrade, or an agent speaking another protocol version. */
  UPGRADE_REQUIRED: 426,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  /** The workspace agent refused or failed a connection the server relayed (e.g. nothing listens on the port). */
  BAD_GATEWAY: 502,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ErrorCodeSchema = z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]);

export const ValidationErrorSchema = z.object({
  field: z.string(),
  detail: z.string(),
});
export type ValidationError = z.infer<typeof ValidationErrorSchema>;

export const ErrorResponseSchema = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  detail: z.string().optional(),
  validations: z.array(ValidationErrorSchema).optional(),
});
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;

export function codeForStatus(status: number): ErrorCode {
  for (const [code, s] of Object.entries(ERROR_STATUS)) if (s === status) return code as ErrorCode;
  return status >= 500 ? "INTERNAL" : "INVALID_INPUT";
}

/** Turns zod issues into the `validations[]` of an error response, one entry per field. */
export function validationsFromZod(error: z.ZodError, prefix = ""): ValidationError[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    const field = [prefix, path].filter(Boolean).join(".") || (prefix || "body");
    if (issue.code === "unrecognized_keys") {
      return { field: [field, ...issue.keys].filter((s) => s !== "body").join(".") || issue.keys.join(","), detail: "unknown field" };
    }
    return { field, detail: issue.message };
  });
}
