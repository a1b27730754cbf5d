// Parses TypeScript sources with the compiler's own parser (no regexes over text, so comments and
// strings never count) and reports what the import-boundary test needs: module specifiers, reads of
// process.env, uses of Node-only globals, and whether a file is a barrel (re-exports only).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

export type ImportKind = "import" | "import-type" | "export-from" | "dynamic-import" | "require" | "import-equals";

export interface ImportRef {
  specifier: string;
  kind: ImportKind;
  line: number;
}

export interface ScannedFile {
  /** Path relative to the repository root, with forward slashes. */
  file: string;
  imports: ImportRef[];
  /** Lines where process.env is read (property access, element access or destructuring). */
  envReads: number[];
  /** Node-only globals used as values (process, Buffer, require, __dirname, __filename). */
  nodeGlobals: { name: string; line: number }[];
  /** The file has statements and every one is an import or an export of something imported. */
  barrel: boolean;
}

const NODE_GLOBALS = new Set(["process", "Buffer", "require", "__dirname", "__filename"]);

function isProcess(expr: ts.Expression): boolean {
  if (ts.isIdentifier(expr)) return expr.text === "process";
  return ts.isPropertyAccessExpression(expr) && expr.name.text === "process" && ts.isIdentifier(expr.expression) && expr.expression.text === "globalThis";
}

/** True when `id` names a variable (a value reference), not a property name, key or declaration. */
function isValueReference(id: ts.Identifier): boolean {
  const p = id.parent;
  if (ts.isPropertyAccessExpression(p) && p.name === id) {
    // `globalThis.process` is a use of the global; `foo.process` is not.
    return ts.isIdentifier(p.expression) && p.expression.text === "globalThis";
  }
  if ((ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isPropertySignature(p) || ts.isMethodDeclaration(p) || ts.isMethodSignature(p)) && p.name === id) return false;
  if (ts.isBindingElement(p) && p.propertyName === id) return false;
  if ((ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isFunctionDeclaration(p) || ts.isClassDeclaration(p) || ts.isBindingElement(p)) && p.name === id) return false;
  if (ts.isImportSpecifier(p) || ts.isExportSpecifier(p) || ts.isImportClause(p) || ts.isNamespaceImport(p)) return false;
  if (ts.isQualifiedName(p) || ts.isTypeReferenceNode(p)) return false;
  if (ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) return false;
  return true;
}

export function scanSource(file: string, text: string): ScannedFile {
  const kind = file.endsWith(".tsx") ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const lineOf = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const imports: ImportRef[] = [];
  const envReads: number[] = [];
  const nodeGlobals: { name: string; line: number }[] = [];

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      imports.push({ specifier: node.moduleSpecifier.text, kind: typeOnly ? "import-type" : "import", line: lineOf(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      imports.push({ specifier: node.moduleSpecifier.text, kind: "export-from", line: lineOf(node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      imports.push({ specifier: node.moduleReference.expression.text, kind: "import-equals", line: lineOf(node) });
    } else if (ts.isCallExpression(node)) {
      const arg = node.arguments[0];
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        // A dynamic import with a computed specifier cannot be checked: record it so the test rejects it.
        imports.push({ specifier: arg && ts.isStringLiteralLike(arg) ? arg.text : "<computed>", kind: "dynamic-import", line: lineOf(node) });
      } else if (ts.isIdentifier(node.expression) && node.expression.text === "require" && arg && ts.isStringLiteralLike(arg)) {
        imports.push({ specifier: arg.text, kind: "require", line: lineOf(node) });
      }
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      // `typeof import("pg")` in a type position.
      imports.push({ specifier: node.argument.literal.text, kind: "import-type", line: lineOf(node) });
    }

    if (ts.isPropertyAccessExpression(node) && node.name.text === "env" && isProcess(node.expression)) envReads.push(lineOf(node));
    if (ts.isElementAccessExpression(node) && isProcess(node.expression) && ts.isStringLiteralLike(node.argumentExpression) && node.argumentExpression.text === "env") {
      envReads.push(lineOf(node));
    }
    if (ts.isVariableDeclaration(node) && node.initializer && isProcess(node.initializer) && ts.isObjectBindingPattern(node.name)) {
      for (const el of node.name.elements) {
        const key = el.propertyName ?? el.name;
        if (ts.isIdentifier(key) && key.text === "env") envReads.push(lineOf(node));
      }
    }
    if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text) && isValueReference(node)) nodeGlobals.push({ name: node.text, line: lineOf(node) });
    ts.forEachChild(node, visit);
  };
  visit(sf);

  const imported = new Set<string>();
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !st.importClause) continue;
    const c = st.importClause;
    if (c.name) imported.add(c.name.text);
    if (c.namedBindings && ts.isNamespaceImport(c.namedBindings)) imported.add(c.namedBindings.name.text);
    if (c.namedBindings && ts.isNamedImports(c.namedBindings)) for (const e of c.namedBindings.elements) imported.add(e.name.text);
  }
  const reExportOnly = (st: ts.Statement): boolean => {
    if (ts.isImportDeclaration(st)) return true;
    if (ts.isExportDeclaration(st)) {
      if (st.moduleSpecifier) return true;
      const clause = st.exportClause;
      return clause !== undefined && ts.isNamedExports(clause) && clause.elements.every((e) => imported.has((e.propertyName ?? e.name).text));
    }
    if (ts.isExportAssignment(st)) return ts.isIdentifier(st.expression) && imported.has(st.expression.text);
    return false;
  };
  const barrel = sf.statements.length > 0 && sf.statements.some((s) => !ts.isImportDeclaration(s)) && sf.statements.every(reExportOnly);

  return { file, imports, envReads, nodeGlobals, barrel };
}

const SOURCE_EXT = /\.(ts|tsx|mts|cts)$/;

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules" && entry.name !== "dist") walk(full, out);
    } else if (SOURCE_EXT.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(full);
  }
}

/** Every source file under packages/<name>/src, scanned. */
export function scanPackages(root: string): { packages: string[]; files: ScannedFile[] } {
  const packagesDir = path.join(root, "packages");
  const packages = readdirSync(packagesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const files: ScannedFile[] = [];
  for (const pkg of packages) {
    const src = path.join(packagesDir, pkg, "src");
    if (!existsSync(src)) continue;
    const found: string[] = [];
    walk(src, found);
    for (const full of found.sort()) {
      const rel = path.relative(root, full).split(path.sep).join("/");
      files.push(scanSource(rel, readFileSync(full, "utf8")));
    }
  }
  return { packages, files };
}

/** The npm package a bare specifier names: `@scope/name` or `name` (subpaths dropped). */
export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}
