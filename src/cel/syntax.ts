/**
 * CEL's lexical rules that tools scanning expression text need (the Object{} rewrite, the
 * mutation tester, the conformance scanner), so that none of them mistakes the inside of a
 * string literal for code.
 */

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
