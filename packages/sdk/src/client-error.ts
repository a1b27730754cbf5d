import { ErrorResponseSchema, type ErrorCode, type ValidationError } from "./errors.js";

/** An error answered by the server (or a transport failure, code UNAVAILABLE) in the one API error shape. */
export class OutpostError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly detail?: string,
    readonly validations: ValidationError[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "OutpostError";
  }

  static async fromResponse(res: Response): Promise<OutpostError> {
    const text = await res.text().catch(() => "");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const retry = Number(res.headers.get("retry-after") ?? "") || undefined;
    const parsed = ErrorResponseSchema.safeParse(body);
    if (parsed.success) {
      const e = parsed.data;
      return new OutpostError(res.status, e.code, e.message, e.detail, e.validations ?? [], retry);
    }
    return new OutpostError(res.status, res.status >= 500 ? "INTERNAL" : "INVALID_INPUT", `unexpected response ${res.status} ${res.statusText}`, text.slice(0, 200), [], retry);
  }
}
