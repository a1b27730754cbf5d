import path from "node:path";
import { createRequire } from "node:module";
import ts from "typescript";

export interface TypeProblem {
  location: string;
  message: string;
}

/**
 * Type-checks template.ts against @outpost/template, so a wrong field type fails at push time with
 * file:line:column and TypeScript's message naming the field.
 */
export function typecheckTemplate(dir: string, templatePackageEntry: string): TypeProblem[] {
  const require = createRequire(import.meta.url);
  const typeRoots = [path.dirname(path.dirname(require.resolve("@types/node/package.json")))];
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: ["node"],
    typeRoots,
    baseUrl: dir,
    paths: { "@outpost/template": [templatePackageEntry] },
  };
  const program = ts.createProgram([path.join(dir, "template.ts")], options);
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
  return diagnostics
    .filter((d) => !d.file || !d.file.fileName.includes(`${path.sep}node_modules${path.sep}`))
    .map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
      if (!d.file || d.start === undefined) return { location: "template.ts", message };
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      const file = path.relative(dir, d.file.fileName);
      return { location: `${file}:${line + 1}:${character + 1}`, message };
    });
}
