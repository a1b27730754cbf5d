// Import boundaries from DESIGN.md, enforced over every packages/*/src file. Each rule is checked on
// the parsed source (see source-scan.ts). The scanner and every rule are also run against a small
// fixture repository that breaks each rule once, so a rule that finds nothing cannot pass vacuously.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { packageName, scanPackages, scanSource, type ImportRef, type ScannedFile } from "./source-scan.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Violations tolerated while their owners fix them (empty is the normal state). An entry must match a
 * current violation exactly: when the code is fixed the "allow-list is current" test fails until the
 * entry is removed here, so this list only shrinks.
 */
const KNOWN_VIOLATIONS: readonly string[] = [
  // Format: "<rule> <file> <what>", e.g. "pg-only-in-db packages/server/src/services/users.ts pg".
];

/** The entry points that may read process.env (everything else gets its configuration passed in). */
const ENV_READERS = new Set(["packages/server/src/config.ts", "packages/cli/src/entry.ts", "packages/agent/src/main.ts"]);

const builtins = new Set(builtinModules);
const isBuiltin = (spec: string) => spec.startsWith("node:") || builtins.has(spec);
const isRelative = (spec: string) => spec.startsWith("./") || spec.startsWith("../");
const isBare = (spec: string) => !isRelative(spec) && !spec.startsWith("/") && !isBuiltin(spec) && spec !== "<computed>";
const packageOf = (file: string) => file.split("/")[1]!;
const under = (file: string, dir: string) => file.startsWith(`${dir}/`);
const isPg = (spec: string) => isBare(spec) && (packageName(spec) === "pg" || packageName(spec).startsWith("pg-"));
const isFastify = (spec: string) =>
  isBare(spec) && (packageName(spec) === "fastify" || packageName(spec).startsWith("fastify-") || spec.startsWith("@fastify/"));

interface Violation {
  /** `rule file what`: what KNOWN_VIOLATIONS lists (no line number, so edits elsewhere in a file do not matter). */
  key: string;
  /** The same with the line, for failure messages. */
  at: string;
}

interface Rule {
  name: string;
  why: string;
  find: (repo: Repo) => Violation[];
}

interface Hit {
  file: ScannedFile;
  ref: ImportRef;
}

interface Repo {
  root: string;
  packages: string[];
  files: ScannedFile[];
  imports: Hit[];
}

function loadRepo(dir: string): Repo {
  const { packages, files } = scanPackages(dir);
  return { root: dir, packages, files, imports: files.flatMap((file) => file.imports.map((ref) => ({ file, ref }))) };
}

function v(rule: string, file: string, line: number, what: string): Violation {
  return { key: `${rule} ${file} ${what}`, at: `${file}:${line} ${what}` };
}

const hitsTo = (rule: string, hits: Hit[]) => hits.map((h) => v(rule, h.file.file, h.ref.line, h.ref.specifier));

function readPackageJson(repo: Repo, pkg: string): Record<string, unknown> & { name?: string } {
  const file = path.join(repo.root, "packages", pkg, "package.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>) : {};
}

const RULES: Rule[] = [
  {
    name: "pg-only-in-db",
    why: "only packages/server/src/db/** imports pg",
    find: (r) => hitsTo("pg-only-in-db", r.imports.filter((h) => isPg(h.ref.specifier) && !under(h.file.file, "packages/server/src/db"))),
  },
  {
    name: "fastify-only-in-http",
    why: "only packages/server/src/http/** imports fastify or @fastify/*",
    find: (r) => hitsTo("fastify-only-in-http", r.imports.filter((h) => isFastify(h.ref.specifier) && !under(h.file.file, "packages/server/src/http"))),
  },
  {
    name: "env-only-in-entry-points",
    why: "process.env is read only in packages/server/src/config.ts, packages/cli/src/entry.ts and packages/agent/src/main.ts",
    find: (r) =>
      r.files
        .filter((f) => !ENV_READERS.has(f.file))
        .flatMap((f) => f.envReads.map((line) => v("env-only-in-entry-points", f.file, line, "process.env"))),
  },
  {
    name: "sdk-imports-only-zod",
    why: "packages/sdk imports only zod and its own files (no node built-ins: it runs in the browser)",
    find: (r) =>
      hitsTo(
        "sdk-imports-only-zod",
        r.imports.filter((h) => packageOf(h.file.file) === "sdk" && !isRelative(h.ref.specifier) && packageName(h.ref.specifier) !== "zod"),
      ),
  },
  {
    name: "sdk-no-node-globals",
    why: "packages/sdk uses no Node-only globals (process, Buffer, require, __dirname, __filename)",
    find: (r) => r.files.filter((f) => packageOf(f.file) === "sdk").flatMap((f) => f.nodeGlobals.map((g) => v("sdk-no-node-globals", f.file, g.line, g.name))),
  },
  {
    name: "sdk-no-outpost-imports",
    why: "packages/sdk never imports another @outpost package",
    find: (r) => hitsTo("sdk-no-outpost-imports", r.imports.filter((h) => packageOf(h.file.file) === "sdk" && h.ref.specifier.startsWith("@outpost/"))),
  },
  {
    name: "server-only-from-cli-server-command",
    why: "@outpost/server is imported only by packages/cli/src/commands/server.ts",
    find: (r) =>
      hitsTo(
        "server-only-from-cli-server-command",
        r.imports.filter(
          (h) => packageName(h.ref.specifier) === "@outpost/server" && h.file.file !== "packages/cli/src/commands/server.ts" && packageOf(h.file.file) !== "server",
        ),
      ),
  },
  {
    name: "nobody-imports-cli",
    why: "no other package imports @outpost/cli",
    find: (r) => hitsTo("nobody-imports-cli", r.imports.filter((h) => packageName(h.ref.specifier) === "@outpost/cli" && packageOf(h.file.file) !== "cli")),
  },
  {
    name: "relative-imports-stay-in-package",
    why: "relative imports never leave their package's src/ (other packages are reached as @outpost/*)",
    find: (r) =>
      hitsTo(
        "relative-imports-stay-in-package",
        r.imports.filter((h) => {
          if (!isRelative(h.ref.specifier)) return false;
          const target = path.posix.normalize(path.posix.join(path.posix.dirname(h.file.file), h.ref.specifier));
          return !under(target, `packages/${packageOf(h.file.file)}/src`);
        }),
      ),
  },
  {
    name: "static-specifiers",
    why: "every dynamic import names its module literally (so these rules can see it)",
    find: (r) => hitsTo("static-specifiers", r.imports.filter((h) => h.ref.specifier === "<computed>")),
  },
  {
    name: "no-barrels",
    why: "no barrel files (modules that only re-export)",
    find: (r) => r.files.filter((f) => f.barrel).map((f) => v("no-barrels", f.file, 1, "re-exports only")),
  },
  {
    name: "imports-are-declared",
    why: "every npm package a package imports is in its package.json dependencies",
    find: (r) => {
      const deps = new Map(
        r.packages.map((pkg) => {
          const json = readPackageJson(r, pkg) as { name?: string; dependencies?: object; peerDependencies?: object };
          return [pkg, new Set([json.name, ...Object.keys(json.dependencies ?? {}), ...Object.keys(json.peerDependencies ?? {})])];
        }),
      );
      return hitsTo("imports-are-declared", r.imports.filter((h) => isBare(h.ref.specifier) && !deps.get(packageOf(h.file.file))!.has(packageName(h.ref.specifier))));
    },
  },
];

const repo = loadRepo(root);
// Computed once when the file loads, so each test below can run on its own.
const found = new Map(RULES.map((rule) => [rule.name, rule.find(repo)]));

describe("source scanner", () => {
  it("recognises every form of import, env read, Node global and barrel", () => {
    const text = [
      `// import x from "commented-out"; process.env.NOPE`,
      `import a from "static-default";`,
      `import { type T } from "type-named";`,
      `import type { U } from "type-clause";`,
      `import { v, type W } from "mixed";`,
      `import "side-effect";`,
      `export * from "star-reexport";`,
      `export { y } from "named-reexport";`,
      `import eq = require("import-equals");`,
      `type P = typeof import("import-type-node");`,
      `const s = "process.env.IN_A_STRING and require('in-a-string')";`,
      `async function f() { await import("dynamic"); await import(s); return require("cjs"); }`,
      `const e1 = process.env.A;`,
      `const e2 = process["env"];`,
      `const { env } = process;`,
      `const e3 = globalThis.process.env;`,
      `const b = Buffer.from("x"); const obj = { process: 1 }; obj.process; let t: Buffer;`,
      `function g(process: number) { return process; }`,
    ].join("\n");
    const r = scanSource("x.ts", text);
    expect(r.imports.map((i) => `${i.kind} ${i.specifier} @${i.line}`)).toEqual([
      "import static-default @2",
      "import-type type-named @3",
      "import-type type-clause @4",
      "import mixed @5",
      "import side-effect @6",
      "export-from star-reexport @7",
      "export-from named-reexport @8",
      "import-equals import-equals @9",
      "import-type import-type-node @10",
      "dynamic-import dynamic @12",
      "dynamic-import <computed> @12",
      "require cjs @12",
    ]);
    expect(r.envReads).toEqual([13, 14, 15, 16]);
    // Line 17: the Buffer value counts, the property `process` and the type `Buffer` do not. Line 18:
    // a parameter named process is not a declaration use; its read counts (the safe direction).
    expect(r.nodeGlobals.map((g) => `${g.name}@${g.line}`)).toEqual(["require@12", "process@13", "process@14", "process@15", "process@16", "Buffer@17", "process@18"]);
    expect(r.barrel).toBe(false);
  });

  it("tells barrels from modules with code", () => {
    expect(scanSource("index.ts", `export * from "./a.js";\nexport { b } from "./b.js";\n`).barrel).toBe(true);
    expect(scanSource("index.ts", `import { a } from "./a.js";\nexport { a };\n`).barrel).toBe(true);
    expect(scanSource("index.ts", `import a from "./a.js";\nexport default a;\n`).barrel).toBe(true);
    expect(scanSource("a.ts", `import { a } from "./a.js";\nexport const b = a + 1;\n`).barrel).toBe(false);
    expect(scanSource("a.ts", `export { a } from "./a.js";\nexport function b() { return 1; }\n`).barrel).toBe(false);
    expect(scanSource("a.ts", `import "./polyfill.js";\n`).barrel).toBe(false);
    expect(scanSource("a.ts", ``).barrel).toBe(false);
  });

  it("finds the repository's known imports and env reads", () => {
    expect(repo.packages).toEqual(expect.arrayContaining(["cli", "sdk", "server"]));
    expect(repo.files.length).toBeGreaterThan(20);
    const byFile = new Map(repo.files.map((f) => [f.file, f]));
    const specs = (file: string) => byFile.get(file)?.imports.map((i) => i.specifier) ?? [`<${file} not scanned>`];
    expect(specs("packages/server/src/db/pool.ts")).toContain("pg");
    expect(specs("packages/server/src/http/app.ts")).toEqual(expect.arrayContaining(["fastify", "@fastify/cookie"]));
    expect(specs("packages/cli/src/commands/server.ts")).toContain("@outpost/server/main");
    expect(specs("packages/sdk/src/names.ts")).toContain("zod");
    expect(byFile.get("packages/server/src/config.ts")?.envReads.length).toBeGreaterThan(0);
    expect(byFile.get("packages/cli/src/entry.ts")?.envReads.length).toBeGreaterThan(0);
    expect(repo.imports.filter((h) => isPg(h.ref.specifier)).map((h) => h.file.file)).toContain("packages/server/src/db/pool.ts");
    expect(repo.imports.filter((h) => isFastify(h.ref.specifier)).map((h) => h.file.file)).toContain("packages/server/src/http/app.ts");
  });
});

describe("every rule catches its violation in a fixture repository", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "outpost-boundaries-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const put = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  };
  put("packages/sdk/package.json", JSON.stringify({ name: "@outpost/sdk", dependencies: { zod: "4" } }));
  put("packages/server/package.json", JSON.stringify({ name: "@outpost/server", dependencies: { "@outpost/sdk": "0", pg: "8", fastify: "5", "@fastify/cookie": "1" } }));
  put("packages/cli/package.json", JSON.stringify({ name: "@outpost/cli", dependencies: { "@outpost/sdk": "0", "@outpost/server": "0" } }));
  // Allowed: each of these is the one place its import or env read may appear.
  put("packages/sdk/src/ok.ts", `import { z } from "zod";\nimport { x } from "./other.js";\nexport const s = z.string().min(x);\n`);
  put("packages/server/src/db/pool.ts", `import pg from "pg";\nexport const p = pg;\n`);
  put("packages/server/src/http/app.ts", `import fastify from "fastify";\nimport cookie from "@fastify/cookie";\nexport const a = [fastify, cookie];\n`);
  put("packages/server/src/config.ts", `export const env = process.env;\n`);
  put("packages/cli/src/entry.ts", `import { env } from "./x.js";\nconsole.log(process.env.HOME, env);\n`);
  put("packages/cli/src/commands/server.ts", `export const load = () => import("@outpost/server/main");\n`);
  // Violations: one per rule.
  put("packages/server/src/services/users.ts", `import type { Pool } from "pg";\nexport type P = Pool;\n`);
  put("packages/server/src/server.ts", `import type { FastifyInstance } from "fastify";\nexport type A = FastifyInstance;\n`);
  put("packages/server/src/db/embedded.ts", `export const path = process.env.PATH;\n`);
  put("packages/sdk/src/fs.ts", `import { readFileSync } from "node:fs";\nexport const r = readFileSync;\n`);
  put("packages/sdk/src/buf.ts", `export const b = (s: string) => Buffer.from(s);\n`);
  put("packages/sdk/src/uses-server.ts", `import type { X } from "@outpost/server/x";\nexport const y: X | undefined = undefined;\n`);
  put("packages/cli/src/commands/login.ts", `import { x } from "@outpost/server/config";\nexport const y = x;\n`);
  put("packages/server/src/uses-cli.ts", `import { main } from "@outpost/cli/main";\nexport const m = main;\n`);
  put("packages/cli/src/reach.ts", `import { x } from "../../server/src/config.js";\nexport const y = x;\n`);
  put("packages/cli/src/dyn.ts", `export const load = (m: string) => import(m);\n`);
  put("packages/server/src/index.ts", `export * from "./server.js";\nexport { env } from "./config.js";\n`);
  put("packages/server/src/services/undeclared.ts", `import { z } from "zod";\nexport const s = z.string();\n`);

  const fixture = loadRepo(dir);
  const expected: Record<string, string[]> = {
    "pg-only-in-db": ["packages/server/src/services/users.ts:1 pg"],
    "fastify-only-in-http": ["packages/server/src/server.ts:1 fastify"],
    "env-only-in-entry-points": ["packages/server/src/db/embedded.ts:1 process.env"],
    "sdk-imports-only-zod": ["packages/sdk/src/fs.ts:1 node:fs", "packages/sdk/src/uses-server.ts:1 @outpost/server/x"],
    "sdk-no-node-globals": ["packages/sdk/src/buf.ts:1 Buffer"],
    "sdk-no-outpost-imports": ["packages/sdk/src/uses-server.ts:1 @outpost/server/x"],
    "server-only-from-cli-server-command": ["packages/cli/src/commands/login.ts:1 @outpost/server/config", "packages/sdk/src/uses-server.ts:1 @outpost/server/x"],
    "nobody-imports-cli": ["packages/server/src/uses-cli.ts:1 @outpost/cli/main"],
    "relative-imports-stay-in-package": ["packages/cli/src/reach.ts:1 ../../server/src/config.js"],
    "static-specifiers": ["packages/cli/src/dyn.ts:1 <computed>"],
    "no-barrels": ["packages/server/src/index.ts:1 re-exports only"],
    "imports-are-declared": [
      "packages/sdk/src/uses-server.ts:1 @outpost/server/x",
      "packages/server/src/services/undeclared.ts:1 zod",
      "packages/server/src/uses-cli.ts:1 @outpost/cli/main",
    ],
  };

  it("has a fixture case for every rule", () => {
    expect(Object.keys(expected).sort()).toEqual(RULES.map((r) => r.name).sort());
  });

  for (const rule of RULES) {
    it(rule.name, () => {
      expect(
        rule
          .find(fixture)
          .map((x) => x.at)
          .sort(),
      ).toEqual(expected[rule.name]!.sort());
    });
  }
});

describe("import boundaries (DESIGN.md)", () => {
  for (const rule of RULES) {
    it(`${rule.name}: ${rule.why}`, () => {
      const known = new Set(KNOWN_VIOLATIONS);
      const unexpected = found
        .get(rule.name)!
        .filter((x) => !known.has(x.key))
        .map((x) => x.at);
      expect(unexpected, `${rule.why}; violations:\n${unexpected.join("\n")}`).toEqual([]);
    });
  }

  it("packages/sdk/package.json depends on zod only", () => {
    const json = readPackageJson(repo, "sdk") as Record<string, Record<string, string> | undefined>;
    expect(Object.keys(json.dependencies ?? {})).toEqual(["zod"]);
    for (const field of ["peerDependencies", "optionalDependencies", "bundleDependencies", "bundledDependencies"]) {
      expect(Object.keys(json[field] ?? {}), `packages/sdk/package.json ${field}`).toEqual([]);
    }
  });

  it("the allow-list of known violations is current (remove entries once fixed)", () => {
    const current = new Set([...found.values()].flat().map((x) => x.key));
    const stale = KNOWN_VIOLATIONS.filter((k) => !current.has(k));
    expect(stale, `fixed, so delete from KNOWN_VIOLATIONS in test/unit/boundaries.test.ts:\n${stale.join("\n")}`).toEqual([]);
  });
});
