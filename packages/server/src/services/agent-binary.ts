// The agent executable the server hands out (`/bin/outpost-agent-linux-amd64`), with its sha256 as the
// ETag. The hash of a given file (device, inode, size, mtime) is computed once and remembered.
import { createHash } from "node:crypto";
import fs, { type FileHandle } from "node:fs/promises";

export interface OpenedAgentBinary {
  /** Open on the file as it was hashed: reading it gives exactly the bytes of `sha256` (unless rewritten in place). */
  handle: FileHandle;
  size: number;
  sha256: string;
}

const MISSING = new Set(["ENOENT", "ENOTDIR", "EISDIR"]);

export class AgentBinary {
  private memo: { key: string; sha256: Promise<string> } | undefined;

  constructor(readonly path: string) {}

  /** The file now, or undefined when there is none (not built). The caller closes the handle. */
  async open(): Promise<OpenedAgentBinary | undefined> {
    let handle: FileHandle;
    try {
      handle = await fs.open(this.path, "r");
    } catch (err) {
      if (MISSING.has((err as NodeJS.ErrnoException).code ?? "")) return undefined;
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) {
        await handle.close();
        return undefined;
      }
      const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      if (this.memo?.key !== key) {
        const sha256 = hashOf(handle);
        this.memo = { key, sha256 };
        sha256.catch(() => {
          if (this.memo?.sha256 === sha256) this.memo = undefined;
        });
      }
      return { handle, size: st.size, sha256: await this.memo.sha256 };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }
}

async function hashOf(handle: FileHandle): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of handle.createReadStream({ start: 0, autoClose: false })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
