/**
 * CEL's optional entries in aggregate literals: `{?key: opt}` and `[?opt]` add the entry
 * only when `opt` (an optional) has a value, and then add that value (cel-spec, "Optional
 * values"; Kubernetes MutatingAdmissionPolicy uses them as `Object{?field: opt}`).
 *
 * cel-js' parser has no syntax for them, so the text is rewritten before parsing: the
 * entry's value becomes a call of OPTIONAL_ENTRY (`{key: OPTIONAL_ENTRY(opt)}`), a
 * function declared as `optional<A> -> A` so the literal type-checks as the optional
 * entry would. After parsing, the literal's evaluation is replaced by one that drops the
 * absent entries (adapter.ts' map literal evaluation asks `optionalEntryOperand` too).
 * Columns in error messages after a rewritten entry shift by the inserted call.
 */
import { EvaluationError, Optional, type Environment } from '@marcbachmann/cel-js';
import type { AstNode, EvaluateFn } from './adapter.js';
import { stringLiteralEnd } from './syntax.js';

/** Not a name a policy would write; calling it outside a literal entry is an error. */
export const OPTIONAL_ENTRY = '__celgate_optional_entry';

export function registerOptionalEntries(env: Environment): void {
  env.registerFunction(`${OPTIONAL_ENTRY}(optional<A>): A`, () => {
    throw new Error('optional entries (?) are allowed only in list and map literals');
  });
}

/** What a literal's scanner knows about one open bracket. */
interface Frame {
  readonly close: string;
  /** A list or map literal (where `?` may open an entry); undefined for (), indexing and messages. */
  readonly literal: 'list' | 'map' | undefined;
  /** The current entry is optional and its OPTIONAL_ENTRY call is open. */
  callOpen: boolean;
  /** A map entry marked optional whose key has not ended yet. */
  awaitingColon: boolean;
}

/** `text` with every optional entry rewritten as described above; the same text when it has none. */
export function rewriteOptionalEntries(text: string): string {
  if (!text.includes('?')) return text;
  const frames: Frame[] = [];
  let out = '';
  let changed = false;
  // Whether the last token ends an operand: then `[` indexes and `{` builds a message.
  let afterOperand = false;
  let i = 0;

  const skipSpace = (): void => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i]!)) out += text[i++];
      if (!text.startsWith('//', i)) return;
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      out += text.slice(i, stop);
      i = stop;
    }
  };
  /** At the start of an entry of `frame`: a `?` marks it optional. */
  const entryStart = (frame: Frame): void => {
    skipSpace();
    if (text[i] !== '?') return;
    i++;
    changed = true;
    if (frame.literal === 'list') {
      out += `${OPTIONAL_ENTRY}(`;
      frame.callOpen = true;
    } else {
      frame.awaitingColon = true;
    }
  };
  const closeEntry = (frame: Frame | undefined): void => {
    if (frame?.callOpen) {
      out += ')';
      frame.callOpen = false;
    }
  };

  while (i < text.length) {
    const stringEnd = stringLiteralEnd(text, i);
    if (stringEnd > i) {
      out += text.slice(i, stringEnd);
      i = stringEnd;
      afterOperand = true;
      continue;
    }
    const c = text[i]!;
    if (/\s/.test(c) || text.startsWith('//', i)) {
      skipSpace();
      continue;
    }
    const top = frames[frames.length - 1];
    if (c === '(' || c === '[' || c === '{') {
      const literal = afterOperand || c === '(' ? undefined : c === '[' ? 'list' : 'map';
      const frame: Frame = { close: c === '(' ? ')' : c === '[' ? ']' : '}', literal, callOpen: false, awaitingColon: false };
      frames.push(frame);
      out += c;
      i++;
      afterOperand = false;
      if (literal) entryStart(frame);
      continue;
    }
    if (top && c === top.close) {
      closeEntry(top);
      frames.pop();
      out += c;
      i++;
      afterOperand = true;
      continue;
    }
    if (top?.literal && c === ',') {
      closeEntry(top);
      out += c;
      i++;
      afterOperand = false;
      entryStart(top);
      continue;
    }
    if (top?.awaitingColon && c === ':') {
      top.awaitingColon = false;
      top.callOpen = true;
      out += `: ${OPTIONAL_ENTRY}(`;
      i++;
      afterOperand = false;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*|^\d[\w.]*/.exec(text.slice(i, i + 256));
    if (word) {
      out += word[0];
      i += word[0].length;
      // `in` is the one operator spelled as a word.
      afterOperand = word[0] !== 'in';
      continue;
    }
    out += c;
    i++;
    afterOperand = false;
  }
  return changed ? out : text;
}

/** A checker message about an OPTIONAL_ENTRY call, as one about the `?` entry the user wrote. */
export function explainOptionalEntries(message: string): string {
  if (!message.includes(OPTIONAL_ENTRY)) return message;
  return message.replace(
    new RegExp(`found no matching overload for '${OPTIONAL_ENTRY}\\((.*)\\)'`),
    (_, type: string) => `an optional entry (?) must be an optional value, found '${type}'`,
  );
}

/** The optional operand of a literal entry written `?operand`, else undefined. */
export function optionalEntryOperand(node: AstNode): AstNode | undefined {
  if (node.op !== 'call') return undefined;
  const [name, args] = node.args as [string, AstNode[]];
  return name === OPTIONAL_ENTRY && args.length === 1 ? args[0] : undefined;
}

/**
 * The value an optional entry adds: the optional's value, or undefined for an absent
 * one. `run` evaluates a node as the evaluator does.
 */
export function optionalEntryValue(operand: AstNode, run: (node: AstNode) => unknown): unknown {
  const optional = run(operand);
  if (!(optional instanceof Optional)) {
    throw new EvaluationError({ code: 'invalid_optional_entry', message: 'an optional entry (?) must be an optional value', node: operand as never });
  }
  return optional.hasValue() ? optional.value() : undefined;
}

/**
 * A list literal with optional elements: elements are evaluated last to first as the
 * evaluator does, and absent optional ones left out.
 */
export function dropAbsentElements(node: AstNode): void {
  const elements = node.args as AstNode[];
  if (!elements.some((element) => optionalEntryOperand(element) !== undefined)) return;
  const evaluate: EvaluateFn = (ev, _ast, ctx) => {
    const run = (n: AstNode): unknown => (ev as { run(n: AstNode, ctx: unknown): unknown }).run(n, ctx);
    const values = new Array<unknown>(elements.length);
    for (let i = elements.length - 1; i >= 0; i--) {
      const element = elements[i]!;
      const operand = optionalEntryOperand(element);
      values[i] = operand ? optionalEntryValue(operand, run) : run(element);
    }
    // Only an absent optional element is undefined: a CEL value never is.
    return values.filter((value) => value !== undefined);
  };
  node.evaluate = evaluate;
}
