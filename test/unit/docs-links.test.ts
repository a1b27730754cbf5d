// Every relative link in the repository's markdown (README files, docs/, bench/) points at a file
// that exists and, when it names a #section, at a heading that exists in that file.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function markdownFiles(): string[] {
  const out = ["README.md"];
  for (const dir of ["docs", "bench"]) {
    if (!existsSync(path.join(root, dir))) continue;
    for (const f of readdirSync(path.join(root, dir))) if (f.endsWith(".md")) out.push(`${dir}/${f}`);
  }
  for (const pkg of readdirSync(path.join(root, "packages"))) {
    if (existsSync(path.join(root, "packages", pkg, "README.md"))) out.push(`packages/${pkg}/README.md`);
  }
  return out.filter((f) => existsSync(path.join(root, f)));
}

/** GitHub's heading anchor: lowercase, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, "")
    .replace(/[^\p{L}\p{N} -]/gu, "")
    .replace(/ /g, "-");
}

function anchors(text: string): Set<string> {
  const withoutCode = text.replace(/^```[\s\S]*?^```/gm, "");
  return new Set([...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

function links(text: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  let inFence = false;
  text.split("\n").forEach((l, i) => {
    if (l.startsWith("```")) inFence = !inFence;
    if (inFence) return;
    const noCode = l.replace(/`[^`]*`/g, "");
    for (const m of noCode.matchAll(/\]\(([^)\s]+)\)/g)) out.push({ target: m[1]!, line: i + 1 });
  });
  return out;
}

describe("markdown links", () => {
  it("parses links and GitHub anchors", () => {
    expect(slug("Running as a service (systemd)")).toBe("running-as-a-service-systemd");
    expect(slug("`outpost login`")).toBe("outpost-login");
    expect(links("see [a](docs/a.md#x-y) and `[b](not-a-link)`\n```\n[c](in-fence)\n```\n[d](#top)").map((l) => l.target)).toEqual(["docs/a.md#x-y", "#top"]);
  });

  const files = markdownFiles();
  it("finds the documentation", () => {
    expect(files).toEqual(expect.arrayContaining(["README.md", "docs/install.md", "docs/config.md", "bench/README.md"]));
  });

  it.each(files)("%s links only to files and sections that exist", (file) => {
    const text = readFileSync(path.join(root, file), "utf8");
    const broken: string[] = [];
    for (const { target, line } of links(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      const [rel, anchor] = target.split("#") as [string, string | undefined];
      const dest = rel === "" ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), rel);
      if (!existsSync(dest)) {
        broken.push(`${file}:${line} ${target}: no such file`);
        continue;
      }
      if (anchor && statSync(dest).isFile() && dest.endsWith(".md") && !anchors(readFileSync(dest, "utf8")).has(anchor)) {
        broken.push(`${file}:${line} ${target}: no such section`);
      }
    }
    expect(broken).toEqual([]);
  });
});
