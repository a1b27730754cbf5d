import { ERROR_STATUS, type ErrorCode, type ErrorResponse, type ValidationError } from "@outpost/sdk/errors";

/** The one error type services throw; the HTTP layer turns it into the API error shape. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: string,
    readonly validations?: ValidationError[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = ERROR_STATUS[code];
  }

  toResponse(): ErrorResponse {
    const body: ErrorResponse = { code: this.code, message: this.message };
    if (this.detail) body.detail = this.detail;
    if (this.validations?.length) body.validations = this.validations;
    return body;
  }
}

export const notFound = (what = "resource") => new ApiError("NOT_FOUND", `${what} not found`);
export const forbidden = (detail?: string) => new ApiError("FORBIDDEN", "you are not allowed to do this", detail);
export const unauthenticated = (message = "you must be logged in", detail?: string) => new ApiError("UNAUTHENTICATED", message, detail);
export const conflict = (message: string, detail?: string) => new ApiError("CONFLICT", message, detail);
/** A WebSocket endpoint asked for without an upgrade (once its checks passed). */
export const upgradeRequired = () => new ApiError("UPGRADE_REQUIRED", "this endpoint is a WebSocket", "open it with an `Upgrade: websocket` request");
export const invalidField = (field: string, detail: string, message = "invalid request") =>
  new ApiError("INVALID_INPUT", message, undefined, [{ field, detail }]);

/** Rethrows a unique violation as 409 naming the field; anything else unchanged. */
export function conflictIfTaken(err: unknown, field: string, value: string): never {
  if ((err as { code?: string })?.code === "23505") {
    throw new ApiError("CONFLICT", `${field} "${value}" is already in use`, undefined, [{ field, detail: "is already in use" }]);
  }
  throw err;
}
