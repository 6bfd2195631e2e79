// The type-checked part of the bundle's property renaming (scripts/bundle-client.mjs OWN_NAMES): a name
// that the DOM, ES or Node typings declare too may still be renamed when every use of it in the
// bundle's sources is a member of one of our own types, never of a platform object.
import { realpathSync } from 'node:fs';
import ts from 'typescript';

/**
 * Throws unless every use of each of `names` in `files` (the bundle's TypeScript modules) resolves,
 * through the type checker, to declarations in our sources only: property reads and writes, object
 * literal members (checked against the type they are written for, e.g. fetch's RequestInit),
 * class members (against the classes they extend or implement), and destructuring. A use whose
 * type has no such member (`any`, an index signature) fails too: it could be anything.
 */
export function checkOwnNames(root, tsconfig, files, names) {
  const wanted = new Set(names);
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } };
  const { options } = ts.getParsedCommandLineOfConfigFile(tsconfig, {}, host);
  const program = ts.createProgram(files, { ...options, noEmit: true, composite: false, declaration: false, declarationMap: false, sourceMap: false });
  const checker = program.getTypeChecker();
  const ours = (decl) => {
    const file = realpathSync(decl.getSourceFile().fileName);
    return file.startsWith(root) && !file.includes('/node_modules/');
  };
  /** Whether `symbol` is declared by us only (a union's member: by us in every constituent). */
  const own = (symbol) => {
    if (!symbol) return false;
    const roots = checker.getRootSymbols(symbol);
    return roots.every((s) => (s.declarations ?? []).length > 0 && s.declarations.every(ours));
  };
  /** The members named `name` of `type` (each constituent of a union), or [undefined] where one has none. */
  const members = (type, name) => (type.isUnion() ? type.types : [type]).map((t) => checker.getPropertyOfType(checker.getApparentType(t), name));
  const problems = [];
  const where = (node) => {
    const sf = node.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
    return `${sf.fileName.replace(root, '')}:${line + 1}`;
  };
  const fail = (node, name, why) => problems.push(`${name} at ${where(node)}: ${why}`);

  const visit = (node) => {
    let nameNode;
    if (ts.isPropertyAccessExpression(node)) nameNode = node.name;
    else if (ts.isElementAccessExpression(node) && ts.isStringLiteral(node.argumentExpression)) nameNode = node.argumentExpression;
    if (nameNode && wanted.has(nameNode.text)) {
      if (!own(checker.getSymbolAtLocation(nameNode))) fail(node, nameNode.text, 'read or written on a type not ours');
    }
    if ((ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)) && ts.isObjectLiteralExpression(node.parent)) {
      const name = node.name && ts.isIdentifier(node.name) ? node.name.text : undefined;
      if (name && wanted.has(name)) {
        const ctx = checker.getContextualType(node.parent);
        if (ctx && members(ctx, name).some((m) => m && !own(m))) fail(node, name, 'an object literal written for a type not ours');
      }
    }
    if ((ts.isPropertyDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)) && ts.isClassLike(node.parent)) {
      const name = node.name && ts.isIdentifier(node.name) ? node.name.text : undefined;
      if (name && wanted.has(name)) {
        for (const clause of node.parent.heritageClauses ?? []) {
          for (const t of clause.types) {
            const m = checker.getPropertyOfType(checker.getTypeAtLocation(t), name);
            if (m && !own(m)) fail(node, name, 'a member of a class that extends or implements a type not ours');
          }
        }
      }
    }
    if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
      const name = (node.propertyName ?? node.name);
      if (ts.isIdentifier(name) && wanted.has(name.text)) {
        const type = checker.getTypeAtLocation(node.parent);
        if (members(type, name.text).some((m) => !own(m))) fail(node, name.text, 'destructured from a type not ours');
      }
    }
    ts.forEachChild(node, visit);
  };
  for (const f of files) {
    const sf = program.getSourceFile(f);
    if (!sf) throw new Error(`bundle-names: ${f} is not in the program`);
    visit(sf);
  }
  if (problems.length > 0) throw new Error(`bundle-client: cannot rename these (see OWN_NAMES):\n  ${problems.join('\n  ')}`);
}
