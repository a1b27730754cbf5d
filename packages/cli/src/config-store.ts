import fs from "node:fs/promises";
import path from "node:path";
import type { CliContext } from "./context.js";

/** The CLI's saved login: deployment URL and session token, in OUTPOST_CONFIG_DIR (0700 dir, 0600 file). */
export interface SavedSession {
  url: string;
  token: string;
}

export function configDir(ctx: Pick<CliContext, "env" | "home">): string {
  return ctx.env.OUTPOST_CONFIG_DIR || path.join(ctx.home, ".config", "outpost");
}

function sessionFile(ctx: Pick<CliContext, "env" | "home">): string {
  return path.join(configDir(ctx), "session.json");
}

export async function readSession(ctx: Pick<CliContext, "env" | "home">): Promise<SavedSession | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(sessionFile(ctx), "utf8")) as Partial<SavedSession>;
    if (typeof parsed.url === "string" && typeof parsed.token === "string") return { url: parsed.url, token: parsed.token };
  } catch {
    // no session yet, or an unreadable one: treat as logged out
  }
  return undefined;
}

export async function writeSession(ctx: Pick<CliContext, "env" | "home">, session: SavedSession): Promise<void> {
  const dir = configDir(ctx);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = sessionFile(ctx);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(session, null, 2) + "\n", { mode: 0o600 });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
}

export async function deleteSession(ctx: Pick<CliContext, "env" | "home">): Promise<boolean> {
  try {
    await fs.unlink(sessionFile(ctx));
    return true;
  } catch {
    return false;
  }
}

/** Where and as whom to connect: OUTPOST_URL / OUTPOST_SESSION_TOKEN override the saved login. */
export async function currentSession(ctx: Pick<CliContext, "env" | "home">): Promise<SavedSession | undefined> {
  const saved = await readSession(ctx);
  const url = ctx.env.OUTPOST_URL || saved?.url;
  const token = ctx.env.OUTPOST_SESSION_TOKEN || saved?.token;
  return url && token ? { url, token } : undefined;
}
