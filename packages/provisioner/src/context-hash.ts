import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { Resource } from "@outpost/template/resources";

/** sha256 over the sorted paths, modes and contents of every file under `dir`. */
export async function hashDirectory(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (rel: string): Promise<void> => {
    const entries = (await fs.readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const full = path.join(dir, p);
        hash.update(`${p}\0${(await fs.stat(full)).mode & 0o111 ? "x" : "-"}\0`);
        hash.update(await fs.readFile(full));
        hash.update("\0");
      }
    }
  };
  await walk("");
  return hash.digest("hex");
}

/**
 * Records each docker_image's build-context hash on the resource, so the plan sees a changed
 * Dockerfile or context file as a change (and rebuilds the image and the containers using it).
 */
export async function withContextHashes(resources: Resource[], templateDir: string): Promise<Resource[]> {
  return Promise.all(
    resources.map(async (r) => {
      if (r.type !== "docker_image") return r;
      const context = path.resolve(templateDir, r.context);
      if (context !== templateDir && !context.startsWith(templateDir + path.sep)) return r;
      return { ...r, contextHash: await hashDirectory(context).catch(() => "missing") };
    }),
  );
}
