// Source transforms of the browser bundle (scripts/bundle-client.mjs): they take out of the bundle
// what the browser client never uses, so that the sources can stay plain and complete TypeScript.
// Each works on the syntax tree, never on text patterns, and fails the build when it finds nothing to
// do: a refactor that moves what it looks for must come back here, not silently grow the bundle.
import { parseAst } from 'rolldown/parseAst';

/** Calls every node of an ESTree (Oxc) tree, parents before children. */
export function walk(node, visit) {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, visit);
    return;
  }
  if (!node || typeof node !== 'object' || typeof node.type !== 'string') return;
  visit(node);
  for (const key of Object.keys(node)) {
    const v = node[key];
    if (v && typeof v === 'object') walk(v, visit);
  }
}

/**
 * The transform hook's result for `[start, end, text]` edits (UTF-16 offsets, non-overlapping):
 * through Rolldown's native MagicString (`experimental.nativeMagicString`), so the source map still
 * points every column of the bundle at its source.
 */
function edited(meta, edits) {
  if (edits.length === 0) return null;
  const s = meta.magicString;
  if (!s) throw new Error('bundle-transforms: needs experimental.nativeMagicString in the Rolldown input options');
  for (const [start, end, text] of edits) s.overwrite(start, end, text);
  return { code: s };
}

/**
 * The protocol errors of the shared codec carry a human-readable `message` for the server's error
 * bodies and logs. The client only asks whether a decode failed (a bad frame fails the transport),
 * so in the browser bundle every message is an empty string. Argument positions of the message, by
 * the name of the function that builds the error (shared/src/result.ts, json-codec.ts).
 */
const MESSAGE_ARG = { fail: [0, 1], malformed: [0, 1], overLimit: [0, 1], badFrame: [0] };

export function stripCodecMessages(sharedSrc) {
  let stripped = 0;
  return {
    name: 'burrow:strip-codec-messages',
    transform(code, id, meta) {
      if (!id.startsWith(sharedSrc) || !id.endsWith('.ts')) return null;
      const edits = [];
      walk(parseAst(code, { lang: 'ts' }, id), (n) => {
        if (n.type !== 'CallExpression' || n.callee.type !== 'Identifier') return;
        if (!Object.hasOwn(MESSAGE_ARG, n.callee.name)) return;
        for (const i of MESSAGE_ARG[n.callee.name]) {
          const arg = n.arguments[i];
          if (arg && ((arg.type === 'Literal' && typeof arg.value === 'string') || arg.type === 'TemplateLiteral')) {
            edits.push([arg.start, arg.end, "''"]);
          }
        }
      });
      stripped += edits.length;
      return edited(meta, edits);
    },
    buildEnd() {
      if (stripped === 0) this.error('found no codec error message to strip: see MESSAGE_ARG');
    },
  };
}

/**
 * `BROWSER_BUNDLE` (client/src/platform/target.ts, shared/src/target.ts) is true in the bundle: the
 * branches only Node or the server takes are dead code, which the minifier drops.
 */
export function browserTarget(targetFiles) {
  const loaded = new Set();
  return {
    name: 'burrow:browser-target',
    load(id) {
      if (!targetFiles.includes(id)) return null;
      loaded.add(id);
      return 'export const BROWSER_BUNDLE = true;\n';
    },
    buildEnd() {
      const missing = targetFiles.filter((f) => !loaded.has(f));
      if (missing.length > 0) this.error(`not part of the bundle: ${missing.join(', ')} (see browserTarget)`);
    },
  };
}
