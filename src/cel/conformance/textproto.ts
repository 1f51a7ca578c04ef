/**
 * A reader for the protobuf text format, just enough for the CEL conformance data.
 *
 * Why our own: the npm packages that read text format need the .proto schemas compiled
 * in (and protoc beside them), and celgate has no protobuf dependency at all. The
 * conformance files use a small, regular part of the format, so a schema-less reader
 * that keeps every field as written is simpler and has no dependency: messages become
 * ordered field lists, strings stay bytes (text format strings are byte strings), and
 * numbers stay their source text so 64-bit integers keep every digit.
 *
 * Grammar handled:
 *   message  := { field [',' | ';'] }
 *   field    := name ( ':' value | [':'] block | [':'] '[' items ']' )
 *   name     := ident | '[' ident { ('.' | '/') ident } ']'   (extensions, Any type URLs)
 *   block    := '{' message '}' | '<' message '>'
 *   value    := string { string } | ['-'] number | ['-'] ident | block | '[' items ']'
 * Comments run from '#' to the end of the line.
 */

export type TextScalar =
  | { readonly kind: 'string'; readonly bytes: Uint8Array }
  | { readonly kind: 'number'; readonly text: string }
  | { readonly kind: 'identifier'; readonly text: string };

export type TextValue = TextScalar | TextMessage;

export interface TextField {
  readonly name: string;
  readonly value: TextValue;
  /** 1-based line of the field name, for error messages. */
  readonly line: number;
}

/** A message as written: its fields in order, repeated fields appearing once per value. */
export class TextMessage {
  readonly kind = 'message';
  constructor(readonly fields: readonly TextField[]) {}

  /** Every value of a field, in order. */
  all(name: string): TextValue[] {
    return this.fields.filter((f) => f.name === name).map((f) => f.value);
  }

  /** The last value of a field (text format lets a later value win), or undefined. */
  get(name: string): TextValue | undefined {
    for (let i = this.fields.length - 1; i >= 0; i--) if (this.fields[i]!.name === name) return this.fields[i]!.value;
    return undefined;
  }

  has(name: string): boolean {
    return this.fields.some((f) => f.name === name);
  }
}

export class TextFormatError extends Error {
  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`);
  }
}

// ---------------------------------------------------------------------------------------
// Tokens

type Token =
  | { readonly type: 'ident'; readonly text: string; readonly line: number }
  | { readonly type: 'number'; readonly text: string; readonly line: number }
  | { readonly type: 'string'; readonly bytes: Uint8Array; readonly line: number }
  | { readonly type: 'punct'; readonly text: string; readonly line: number }
  | { readonly type: 'eof'; readonly line: number };

const PUNCTUATION = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '/', '.', '-']);
const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;
const NUMBER_PART = /[0-9A-Za-z_.+-]/;

class Tokenizer {
  #pos = 0;
  #line = 1;

  constructor(private readonly text: string) {}

  next(): Token {
    this.#skipSpaceAndComments();
    const { text } = this;
    const line = this.#line;
    if (this.#pos >= text.length) return { type: 'eof', line };
    const c = text[this.#pos]!;
    if (c === '"' || c === "'") return { type: 'string', bytes: this.#readString(c), line };
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[this.#pos + 1] ?? ''))) {
      return { type: 'number', text: this.#readNumber(), line };
    }
    if (IDENT_START.test(c)) return { type: 'ident', text: this.#readWhile(IDENT_PART), line };
    if (PUNCTUATION.has(c)) {
      this.#pos++;
      return { type: 'punct', text: c, line };
    }
    throw new TextFormatError(`unexpected character ${JSON.stringify(c)}`, line);
  }

  #skipSpaceAndComments(): void {
    const { text } = this;
    while (this.#pos < text.length) {
      const c = text[this.#pos]!;
      if (c === '\n') {
        this.#line++;
        this.#pos++;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        this.#pos++;
      } else if (c === '#') {
        while (this.#pos < text.length && text[this.#pos] !== '\n') this.#pos++;
      } else {
        return;
      }
    }
  }

  #readWhile(pattern: RegExp): string {
    const start = this.#pos;
    while (this.#pos < this.text.length && pattern.test(this.text[this.#pos]!)) this.#pos++;
    return this.text.slice(start, this.#pos);
  }

  /** A number's source text; an exponent sign is part of it (`1e-5`), a leading sign is not. */
  #readNumber(): string {
    const start = this.#pos;
    while (this.#pos < this.text.length) {
      const c = this.text[this.#pos]!;
      const previous = this.text[this.#pos - 1];
      const signOfExponent = (c === '+' || c === '-') && (previous === 'e' || previous === 'E');
      if (!NUMBER_PART.test(c) || ((c === '+' || c === '-') && !signOfExponent)) break;
      this.#pos++;
    }
    return this.text.slice(start, this.#pos);
  }

  /** A quoted string with C-style escapes, as the bytes it denotes (UTF-8 for literal text). */
  #readString(quote: string): Uint8Array {
    const { text } = this;
    const line = this.#line;
    const out: number[] = [];
    this.#pos++;
    while (this.#pos < text.length) {
      const c = text[this.#pos]!;
      if (c === quote) {
        this.#pos++;
        return Uint8Array.from(out);
      }
      if (c === '\n') break;
      if (c === '\\') {
        this.#pos = readEscape(text, this.#pos + 1, out, line);
      } else {
        const code = text.codePointAt(this.#pos)!;
        pushUtf8(out, code);
        this.#pos += code > 0xffff ? 2 : 1;
      }
    }
    throw new TextFormatError('unterminated string', line);
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  '\\': 0x5c,
  "'": 0x27,
  '"': 0x22,
  '?': 0x3f,
};

/** Decodes the escape starting at `pos` (just after the backslash); returns the next position. */
function readEscape(text: string, pos: number, out: number[], line: number): number {
  const c = text[pos];
  if (c === undefined) throw new TextFormatError('unterminated escape', line);
  const simple = SIMPLE_ESCAPES[c];
  if (simple !== undefined) {
    out.push(simple);
    return pos + 1;
  }
  if (/[0-7]/.test(c)) {
    const digits = /^[0-7]{1,3}/.exec(text.slice(pos, pos + 3))![0];
    out.push(Number.parseInt(digits, 8) & 0xff);
    return pos + digits.length;
  }
  if (c === 'x' || c === 'X') {
    const digits = /^[0-9A-Fa-f]{1,2}/.exec(text.slice(pos + 1, pos + 3))?.[0];
    if (!digits) throw new TextFormatError('invalid \\x escape', line);
    out.push(Number.parseInt(digits, 16));
    return pos + 1 + digits.length;
  }
  if (c === 'u' || c === 'U') {
    const length = c === 'u' ? 4 : 8;
    const digits = text.slice(pos + 1, pos + 1 + length);
    if (!new RegExp(`^[0-9A-Fa-f]{${length}}$`).test(digits)) throw new TextFormatError(`invalid \\${c} escape`, line);
    pushUtf8(out, Number.parseInt(digits, 16));
    return pos + 1 + length;
  }
  throw new TextFormatError(`unknown escape \\${c}`, line);
}

function pushUtf8(out: number[], code: number): void {
  if (code < 0x80) out.push(code);
  else if (code < 0x800) out.push(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
  else if (code < 0x10000) out.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
  else out.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 0x3f), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
}

// ---------------------------------------------------------------------------------------
// Parser

class Parser {
  readonly #tokens: Tokenizer;
  #token: Token;

  constructor(text: string) {
    this.#tokens = new Tokenizer(text);
    this.#token = this.#tokens.next();
  }

  parseDocument(): TextMessage {
    const message = this.#parseFields(undefined);
    if (this.#token.type !== 'eof') this.#fail('expected a field name');
    return message;
  }

  #advance(): Token {
    const current = this.#token;
    this.#token = this.#tokens.next();
    return current;
  }

  #isPunct(text: string): boolean {
    return this.#token.type === 'punct' && this.#token.text === text;
  }

  #expectPunct(text: string): void {
    if (!this.#isPunct(text)) this.#fail(`expected '${text}'`);
    this.#advance();
  }

  #fail(message: string): never {
    const t = this.#token;
    const found = t.type === 'eof' ? 'end of input' : t.type === 'string' ? 'a string' : `'${t.text}'`;
    throw new TextFormatError(`${message}, found ${found}`, t.line);
  }

  /** Fields until `close` (or end of input at top level). */
  #parseFields(close: string | undefined): TextMessage {
    const fields: TextField[] = [];
    while (!(close === undefined ? this.#token.type === 'eof' : this.#isPunct(close))) {
      const line = this.#token.line;
      const name = this.#parseFieldName();
      for (const value of this.#parseFieldValues()) fields.push({ name, value, line });
      if (this.#isPunct(',') || this.#isPunct(';')) this.#advance();
    }
    return new TextMessage(fields);
  }

  #parseFieldName(): string {
    const simple = this.#takeIdentifier();
    if (simple !== undefined) return simple;
    this.#expectPunct('[');
    let name = '';
    while (!this.#isPunct(']')) {
      const part = this.#takeIdentifier() ?? this.#takeNamePunctuation();
      if (part === undefined) this.#fail('expected an extension or type URL name');
      name += part;
    }
    this.#advance();
    return `[${name}]`;
  }

  #takeIdentifier(): string | undefined {
    const t = this.#token;
    if (t.type !== 'ident') return undefined;
    this.#advance();
    return t.text;
  }

  /** The separators inside `[type.googleapis.com/pkg.Name]`. */
  #takeNamePunctuation(): string | undefined {
    const t = this.#token;
    if (t.type !== 'punct' || (t.text !== '.' && t.text !== '/')) return undefined;
    this.#advance();
    return t.text;
  }

  /** One value, or several for the list form `name: [a, b]`. */
  #parseFieldValues(): TextValue[] {
    const hasColon = this.#isPunct(':');
    if (hasColon) this.#advance();
    if (this.#isPunct('{') || this.#isPunct('<')) return [this.#parseBlock()];
    if (this.#isPunct('[')) return this.#parseList();
    if (!hasColon) this.#fail("expected ':' or '{'");
    return [this.#parseScalar()];
  }

  #parseBlock(): TextMessage {
    const close = this.#isPunct('{') ? '}' : '>';
    this.#advance();
    const message = this.#parseFields(close);
    this.#expectPunct(close);
    return message;
  }

  #parseList(): TextValue[] {
    this.#expectPunct('[');
    const values: TextValue[] = [];
    while (!this.#isPunct(']')) {
      values.push(this.#isPunct('{') || this.#isPunct('<') ? this.#parseBlock() : this.#parseScalar());
      if (this.#isPunct(',')) this.#advance();
      else if (!this.#isPunct(']')) this.#fail("expected ',' or ']'");
    }
    this.#advance();
    return values;
  }

  #parseScalar(): TextScalar {
    const t = this.#token;
    if (t.type === 'string') return { kind: 'string', bytes: this.#parseAdjacentStrings() };
    const negative = this.#isPunct('-');
    if (negative) this.#advance();
    const sign = negative ? '-' : '';
    const value = this.#token;
    if (value.type === 'number') {
      this.#advance();
      return { kind: 'number', text: sign + value.text };
    }
    if (value.type === 'ident') {
      this.#advance();
      // inf and nan are numbers spelled as words; any other word is an enum or bool name.
      if (/^(inf|infinity|nan)$/i.test(value.text)) return { kind: 'number', text: sign + value.text };
      if (negative) this.#fail('expected a number after -');
      return { kind: 'identifier', text: value.text };
    }
    return this.#fail('expected a value');
  }

  /** Adjacent string literals concatenate, as in C. */
  #parseAdjacentStrings(): Uint8Array {
    const parts: Uint8Array[] = [];
    while (this.#token.type === 'string') parts.push((this.#advance() as { bytes: Uint8Array }).bytes);
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }
}

/** Parses a text-format document into its top-level message. Throws TextFormatError. */
export function parseTextProto(text: string): TextMessage {
  return new Parser(text).parseDocument();
}

// ---------------------------------------------------------------------------------------
// Typed access to fields

const utf8 = new TextDecoder('utf-8');

export function isMessage(value: TextValue | undefined): value is TextMessage {
  return value instanceof TextMessage;
}

/** A string field decoded as UTF-8, or undefined when absent. */
export function stringOf(value: TextValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.kind !== 'string') throw new Error(`expected a string, found ${describe(value)}`);
  return utf8.decode(value.bytes);
}

export function bytesOf(value: TextValue | undefined): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (value.kind !== 'string') throw new Error(`expected bytes, found ${describe(value)}`);
  return value.bytes;
}

export function boolOf(value: TextValue | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const text = value.kind === 'identifier' || value.kind === 'number' ? value.text : '';
  if (/^(true|True|t|1)$/.test(text)) return true;
  if (/^(false|False|f|0)$/.test(text)) return false;
  throw new Error(`expected a bool, found ${describe(value)}`);
}

/** An integer field, exactly (decimal, hex or octal). */
export function integerOf(value: TextValue | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  if (value.kind !== 'number') throw new Error(`expected an integer, found ${describe(value)}`);
  const text = value.text;
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  const magnitude = /^0[0-7]+$/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  return negative ? -magnitude : magnitude;
}

export function doubleOf(value: TextValue | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value.kind !== 'number') throw new Error(`expected a number, found ${describe(value)}`);
  // A float suffix (`1.5f`) is not part of the value; `inf` ends in f but has none.
  const text = /^-?[0-9.]/.test(value.text) ? value.text.replace(/[fF]$/, '') : value.text;
  if (/^-?(inf|infinity)$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^-?nan$/i.test(text)) return Number.NaN;
  const parsed = Number(text);
  if (Number.isNaN(parsed)) throw new Error(`expected a number, found ${text}`);
  return parsed;
}

/** An enum field by name (or number, as text). */
export function enumOf(value: TextValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.kind === 'identifier' || value.kind === 'number') return value.text;
  throw new Error(`expected an enum value, found ${describe(value)}`);
}

function describe(value: TextValue): string {
  return value.kind === 'message' ? 'a message' : value.kind;
}
