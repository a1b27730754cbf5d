import type { LightMyRequestResponse } from "fastify";
import { ERROR_STATUS, ErrorResponseSchema, type ErrorCode, type ErrorResponse } from "@outpost/sdk/errors";
import { expect } from "vitest";

/** The error shape, with no other keys: a stray `stack` or `statusCode` from the framework fails it. */
const StrictErrorSchema = ErrorResponseSchema.strict();

/** Signs that a response leaks server internals: stack frames, source paths, dependency folders. */
const LEAK_PATTERNS: RegExp[] = [
  /\bat [^\n]*\((?:file:\/\/)?\/[^)]*:\d+:\d+\)/, // "at fn (/path/file.js:1:2)"
  /(?:\n|\\n)\s*at \S/, // a multi-line stack, raw or JSON-escaped
  /node_modules/,
  /\/work\/|\/src\/|\/dist\//, // absolute or source paths
  /\.(?:ts|js|mjs):\d+/, // file:line
];

/** Returns a reason when the body looks like it leaks a stack trace or a server file path. */
export function leakIn(body: string): string | undefined {
  for (const re of LEAK_PATTERNS) if (re.test(body)) return `matches ${re}`;
  return undefined;
}

/** Parses a 4xx/5xx body as the API error shape; returns an explanation when it is not. */
export function errorShapeProblem(res: LightMyRequestResponse): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return `body is not JSON: ${res.body.slice(0, 200)}`;
  }
  const parsed = StrictErrorSchema.safeParse(body);
  if (!parsed.success) return `body is not the error shape: ${res.body.slice(0, 300)}`;
  if (ERROR_STATUS[parsed.data.code] !== res.statusCode) return `code ${parsed.data.code} does not match status ${res.statusCode}`;
  if (!String(res.headers["content-type"] ?? "").startsWith("application/json")) return `content type ${String(res.headers["content-type"])}`;
  return undefined;
}

/** Asserts an error response: status, code, exact shape, no leaks. Returns the parsed body. */
export function expectError(res: LightMyRequestResponse, code: ErrorCode): ErrorResponse {
  expect(res.statusCode, res.body).toBe(ERROR_STATUS[code]);
  expect(errorShapeProblem(res), res.body).toBeUndefined();
  expect(leakIn(res.body), res.body).toBeUndefined();
  const body = res.json() as ErrorResponse;
  expect(body.code).toBe(code);
  return body;
}

/** Asserts a 400 whose validations name `field` (and returns that entry's detail). */
export function expectFieldError(res: LightMyRequestResponse, field: string, code: ErrorCode = "INVALID_INPUT"): string {
  const body = expectError(res, code);
  const fields = (body.validations ?? []).map((v) => v.field);
  expect(fields, `validations of ${res.body}`).toContain(field);
  return body.validations!.find((v) => v.field === field)!.detail;
}
