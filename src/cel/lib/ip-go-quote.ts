/**
 * Go's `strconv.Quote` (what `%q` prints), so that error messages copied from Go's
 * net/netip and net/url read exactly as Kubernetes prints them.
 */

const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

function quoteChar(char: string): string {
  const named = NAMED_ESCAPES[char];
  if (named !== undefined) return named;
  if (PRINTABLE.test(char)) return char;
  const code = char.codePointAt(0)!;
  if (code < 0x80) return `\\x${hex(code, 2)}`;
  if (code >= 0xd800 && code <= 0xdfff) return '\ufffd'; // a lone surrogate is not valid UTF-8
  return code < 0x10000 ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`;
}

/** `s` in double quotes with Go's escapes. */
export function goQuote(s: string): string {
  let out = '"';
  for (const char of s) out += quoteChar(char);
  return `${out}"`;
}
