import { createHash } from "node:crypto";

/** JSON with sorted keys and without undefined members, so equal specs hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/**
 * A short digest of what an object was created from. Drivers stamp it on what they create (label,
 * environment), and adopt an existing object on create only when the digest matches.
 */
export function specHash(v: unknown): string {
  return createHash("sha256").update(canonicalJson(v)).digest("hex").slice(0, 20);
}

/** The error an operation stopped by ctx.signal throws. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === "AbortError") return reason;
  const err = new Error(reason instanceof Error ? `canceled: ${reason.message}` : "canceled");
  err.name = "AbortError";
  return err;
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortError(signal);
}

/** Resolves after `ms`, or rejects with an AbortError as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Workspace ids become directory, container and image names: refuse anything that could escape. */
export function checkWorkspaceId(id: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(id) || id.includes("..")) {
    throw new Error(`invalid workspace id ${JSON.stringify(id)}: must be letters, digits, '_', '.', '-'`);
  }
}
