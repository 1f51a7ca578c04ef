/**
 * CEL's lexical rules that tools scanning expression text need (the Object{} rewrite, the
 * mutation tester, the conformance scanner), so that none of them mistakes the inside of a
 * string literal for code, and the identifier rule names are checked against.
 */

/** CEL's reserved words (the spec's RESERVED): no identifier may be one. */
const RESERVED_WORDS: ReadonlySet<string> = new Set(
  'true false null in as break const continue else for function if import let loop package namespace return var void while'.split(' '),
);

/** Whether `name` is a CEL identifier: [_a-zA-Z][_a-zA-Z0-9]* and not a reserved word. */
export function isCelIdentifier(name: string): boolean {
  return /^[_a-zA-Z][_a-zA-Z0-9]*$/.test(name) && !RESERVED_WORDS.has(name);
}

/**
 * If a string literal starts at `start` (an optional r/b prefix in either order and case,
 * then single, double or triple quotes), the index just after it; otherwise `start`. Raw
 * strings take no escapes; a single-quoted string ends at a newline (it is unterminated).
 */
export function stringLiteralEnd(text: string, start: number): number {
  let i = start;
  let raw = false;
  for (let k = 0; k < 2 && /[rRbB]/.test(text[i] ?? ''); k++) {
    if (/[rR]/.test(text[i]!)) raw = true;
    i++;
  }
  const quote = text[i];
  if (quote !== '"' && quote !== "'") return start;
  // A prefix letter is part of an identifier when one comes right before it (`attr'x'` is no literal).
  if (i > start && start > 0 && /[A-Za-z0-9_]/.test(text[start - 1]!)) return start;
  const triple = text.startsWith(quote.repeat(3), i);
  const close = triple ? quote.repeat(3) : quote;
  i += close.length;
  while (i < text.length) {
    if (!raw && text[i] === '\\') {
      i += 2;
      continue;
    }
    if (text.startsWith(close, i)) return i + close.length;
    if (!triple && text[i] === '\n') return i;
    i++;
  }
  return text.length;
}
