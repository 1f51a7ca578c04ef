/**
 * A token-level look at CEL expression text, for deciding what a conformance case needs
 * before running it: which qualified names it mentions and whether it constructs
 * messages (`Name{...}`). String, bytes and raw literals and comments are skipped whole,
 * so text inside a literal never counts as a name.
 */
import { stringLiteralEnd } from '../syntax.js';

export interface ExpressionFeatures {
  /** Dotted names as written, e.g. `google.protobuf.Int32Value`, `x.y`. */
  readonly qualifiedNames: readonly string[];
  /** Names followed by `{`: message construction such as `TestAllTypes{...}`. */
  readonly constructedMessages: readonly string[];
}

type Token = { readonly type: 'ident' | 'punct' | 'literal'; readonly text: string };

const KEYWORDS = new Set(['in', 'true', 'false', 'null']);

export function scanExpression(text: string): ExpressionFeatures {
  const tokens = tokenize(text);
  const qualifiedNames: string[] = [];
  const constructedMessages: string[] = [];
  let i = 0;
  while (i < tokens.length) {
    const start = i;
    const name = readQualifiedName(tokens, i);
    if (name === undefined) {
      i++;
      continue;
    }
    i = name.end;
    const memberOfExpression = start > 0 && isPunct(tokens[start - 1], '.') && !leadingDot(tokens, start);
    if (memberOfExpression) continue;
    if (name.text.includes('.')) qualifiedNames.push(name.text.replace(/^\./, ''));
    if (isPunct(tokens[i], '{')) constructedMessages.push(name.text.replace(/^\./, ''));
  }
  return { qualifiedNames, constructedMessages };
}

/** `.name` at the start of an operand (a leading dot for the root namespace). */
function leadingDot(tokens: readonly Token[], identIndex: number): boolean {
  const before = tokens[identIndex - 2];
  return before === undefined || (before.type === 'punct' && !/^[)\]}]$/.test(before.text));
}

function readQualifiedName(tokens: readonly Token[], i: number): { text: string; end: number } | undefined {
  let text = '';
  if (isPunct(tokens[i], '.') && tokens[i + 1]?.type === 'ident' && leadingDot(tokens, i + 1)) {
    text = '.';
    i++;
  }
  const first = tokens[i];
  if (first?.type !== 'ident' || KEYWORDS.has(first.text)) return undefined;
  text += first.text;
  i++;
  // A call (`a.b(`) ends the name before the method.
  while (isPunct(tokens[i], '.') && tokens[i + 1]?.type === 'ident' && !isPunct(tokens[i + 2], '(')) {
    text += `.${tokens[i + 1]!.text}`;
    i += 2;
  }
  return { text, end: i };
}

function isPunct(token: Token | undefined, text: string): boolean {
  return token?.type === 'punct' && token.text === text;
}

// ---------------------------------------------------------------------------------------

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const literalEnd = stringLiteralEnd(text, i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (literalEnd > i) {
      tokens.push({ type: 'literal', text: text.slice(i, literalEnd) });
      i = literalEnd;
    } else if (/[A-Za-z_]/.test(c)) {
      const start = i;
      while (i < text.length && /[A-Za-z0-9_]/.test(text[i]!)) i++;
      tokens.push({ type: 'ident', text: text.slice(start, i) });
    } else if (/[0-9]/.test(c)) {
      const start = i;
      while (i < text.length && /[0-9A-Za-z_.]/.test(text[i]!)) i++;
      tokens.push({ type: 'literal', text: text.slice(start, i) });
    } else {
      tokens.push({ type: 'punct', text: c });
      i++;
    }
  }
  return tokens;
}

