/**
 * MutatingAdmissionPolicy expressions build typed objects: `JSONPatch{op: "add", path:
 * "/x", value: 1}` and `Object{spec: Object.spec{replicas: 3}}` (Kubernetes' dynamic
 * "Object" type, whose type names follow the field path). The CEL evaluator has no
 * message construction for these types, so before compiling, each such literal becomes
 * the equivalent map literal (`{"op": "add", ...}`): field names are quoted and the type
 * name is blanked out. Strings and comments are left untouched. Line numbers stay exact;
 * columns after a rewritten field on the same line shift by two per field.
 */

import { stringLiteralEnd } from '../cel/index.js';

const TYPE_ROOTS: ReadonlySet<string> = new Set(['Object', 'JSONPatch']);

type Frame =
  | { readonly kind: 'message'; readonly typeName: string; expectField: boolean; field?: string }
  | { readonly kind: 'list' }
  | { readonly kind: 'other' };

/** The expression with every Object/JSONPatch literal turned into a map literal; unchanged if it has none. */
export function rewriteObjectLiterals(text: string): string {
  return rewriteAndCheck(text).text;
}

/**
 * Rewrites, and checks what Kubernetes checks of an Object literal: its type name must
 * follow the field path it is the value of (`Object{spec: Object.spec{...}}`).
 */
export function rewriteAndCheck(text: string): { text: string; error?: string } {
  if (!/\b(?:Object|JSONPatch)\b/.test(text)) return { text };
  let error: string | undefined;
  let out = '';
  const stack: Frame[] = [];
  let i = 0;
  const top = (): Frame | undefined => stack[stack.length - 1];
  const tokenSeen = (): void => {
    const frame = top();
    if (frame?.kind === 'message') frame.expectField = false;
  };
  while (i < text.length) {
    const c = text[i]!;
    // Strings (with r/b prefixes and triple quotes) are copied verbatim.
    const stringEnd = stringLiteralEnd(text, i);
    if (stringEnd > i) {
      out += text.slice(i, stringEnd);
      i = stringEnd;
      tokenSeen();
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      out += text.slice(i, stop);
      i = stop;
      continue;
    }
    if (/\s/.test(c)) {
      out += c;
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const identEnd = scanIdent(text, i);
      const ident = text.slice(i, identEnd);
      const frame = top();
      if (frame?.kind === 'message' && frame.expectField && nextNonSpace(text, identEnd) === ':') {
        out += `"${ident}"`;
        i = identEnd;
        frame.expectField = false;
        frame.field = ident;
        continue;
      }
      if (TYPE_ROOTS.has(ident) && previousNonSpace(out) !== '.') {
        const brace = typeNameEnd(text, identEnd, ident === 'Object');
        if (brace >= 0) {
          // Blank the type name (keeping newlines) and open a message frame at the brace.
          const typeName = text.slice(i, brace).replace(/\s/g, '');
          const expected = expectedTypeName(stack);
          if (expected !== undefined && typeName !== expected && error === undefined) {
            error = `type mismatch: ${typeName} is used where ${expected} is expected (an Object literal's type name is its field path)`;
          }
          out += text.slice(i, brace).replace(/[^\n]/g, ' ') + '{';
          i = brace + 1;
          tokenSeen();
          stack.push({ kind: 'message', typeName, expectField: true });
          continue;
        }
      }
      out += ident;
      i = identEnd;
      tokenSeen();
      continue;
    }
    if (c === '?') {
      // `?field: value` is an optional field; the field name still follows.
      out += c;
      i++;
      continue;
    }
    if (c === '{' || c === '(' || c === '[') {
      tokenSeen();
      stack.push({ kind: c === '[' ? 'list' : 'other' });
    } else if (c === '}' || c === ')' || c === ']') {
      stack.pop();
      tokenSeen();
    } else if (c === ',') {
      const frame = top();
      if (frame?.kind === 'message') frame.expectField = true;
    } else {
      tokenSeen();
    }
    out += c;
    i++;
  }
  return error === undefined ? { text: out } : { text: out, error };
}

/** For a literal written directly as a field value (possibly inside list literals) of an Object literal. */
function expectedTypeName(stack: readonly Frame[]): string | undefined {
  for (let k = stack.length - 1; k >= 0; k--) {
    const frame = stack[k]!;
    if (frame.kind === 'list') continue;
    if (frame.kind === 'message' && frame.typeName.startsWith('Object') && frame.field !== undefined && !frame.expectField) {
      return `${frame.typeName}.${frame.field}`;
    }
    return undefined;
  }
  return undefined;
}

function scanIdent(text: string, start: number): number {
  let i = start;
  while (i < text.length && /[A-Za-z0-9_]/.test(text[i]!)) i++;
  return i;
}

function nextNonSpace(text: string, from: number): string | undefined {
  let i = from;
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return text[i];
}

function previousNonSpace(text: string): string | undefined {
  let i = text.length - 1;
  while (i >= 0 && /\s/.test(text[i]!)) i--;
  return text[i];
}

/** For `Object(.field)* {` or `JSONPatch {` starting after the root: the index of `{`, else -1. */
function typeNameEnd(text: string, from: number, allowPath: boolean): number {
  let i = from;
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text[i] === '{') return i;
    if (!allowPath || text[i] !== '.') return -1;
    i++;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (!/[A-Za-z_]/.test(text[i] ?? '')) return -1;
    i = scanIdent(text, i);
  }
}

