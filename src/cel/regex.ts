/**
 * Regular expressions with RE2 semantics in linear time.
 *
 * Kubernetes evaluates `matches`, `find` and `findAll` with Go's RE2: no backreferences,
 * no lookaround, and matching time linear in the input. JavaScript's RegExp backtracks,
 * so a pattern such as `^(a+)+$` can run for minutes. Here every pattern is parsed by
 * re2js (a port of RE2, so syntax errors and unsupported constructs are rejected exactly
 * as RE2 rejects them). Patterns whose meaning is the same in both dialects run on V8's
 * RegExp, but only when V8's linear-time engine accepts them too, and with V8's fallback
 * to that engine on excessive backtracking switched on; every other pattern (or input
 * with characters outside the BMP) runs on re2js, which is linear by construction.
 */
import v8 from 'node:v8';
import { RE2JS } from 're2js';
import { CelFunctionError } from './errors.js';

v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

export interface Re2Pattern {
  readonly source: string;
  test(input: string): boolean;
  /** The first match, or undefined. */
  find(input: string): string | undefined;
  /** Every non-overlapping match, at most `limit` of them when limit >= 0. */
  findAll(input: string, limit?: number): string[];
}

const MAX_CACHED = 512;
const cache = new Map<string, Re2Pattern>();

/** Compile (or fetch from the cache) a pattern; throws CelFunctionError for invalid RE2. */
export function re2(pattern: string): Re2Pattern {
  let compiled = cache.get(pattern);
  if (compiled) return compiled;
  compiled = compile(pattern);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(pattern, compiled);
  return compiled;
}

/** The reason a pattern is not valid RE2, or undefined when it is. */
export function re2SyntaxError(pattern: string): string | undefined {
  try {
    re2(pattern);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function compile(pattern: string): Re2Pattern {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (error) {
    throw new CelFunctionError(
      `invalid regular expression ${JSON.stringify(pattern)}: ${(error as Error).message} ` +
        '(CEL uses RE2 syntax: no backreferences or lookaround)',
      'invalid_argument',
    );
  }
  const portable = toPortableSource(pattern);
  const native = portable === undefined ? undefined : linearSafeRegExp(portable);
  return native ? new HybridPattern(pattern, re, native) : new Re2OnlyPattern(pattern, re);
}

class Re2OnlyPattern implements Re2Pattern {
  constructor(
    readonly source: string,
    private readonly re: RE2JS,
  ) {}
  test(input: string): boolean {
    return this.re.test(input);
  }
  find(input: string): string | undefined {
    const m = this.re.matcher(input);
    return m.find() ? (m.group(0) ?? '') : undefined;
  }
  findAll(input: string, limit = -1): string[] {
    const out: string[] = [];
    const m = this.re.matcher(input);
    while ((limit < 0 || out.length < limit) && m.find()) out.push(m.group(0) ?? '');
    return out;
  }
}

const SURROGATE = /[\uD800-\uDFFF]/;

class HybridPattern extends Re2OnlyPattern {
  private readonly global: RegExp;
  constructor(
    source: string,
    re: RE2JS,
    private readonly native: RegExp,
  ) {
    super(source, re);
    this.global = new RegExp(native.source, 'g');
  }
  override test(input: string): boolean {
    return SURROGATE.test(input) ? super.test(input) : this.native.test(input);
  }
  override find(input: string): string | undefined {
    if (SURROGATE.test(input)) return super.find(input);
    const m = this.native.exec(input);
    return m ? m[0] : undefined;
  }
  override findAll(input: string, limit = -1): string[] {
    if (SURROGATE.test(input)) return super.findAll(input, limit);
    const out: string[] = [];
    const re = this.global;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((limit < 0 || out.length < limit) && (m = re.exec(input)) !== null) {
      out.push(m[0]);
      if (m[0] === '') re.lastIndex++;
    }
    return out;
  }
}

// Escapes whose meaning is identical in RE2 and in a non-unicode JS RegExp.
const PORTABLE_ESCAPES = new Set('dDwWbBtnrfv.\\-^$*+?()[]{}|/'.split(''));

/**
 * Rewrites an RE2 pattern into JS source with the same meaning, or returns undefined
 * when that is not simple (flags groups, Unicode classes, \s, POSIX classes, \Q…\E, …).
 * Only `.` needs rewriting: RE2's dot excludes just `\n`, JS's also excludes `\r` and
 * the Unicode line separators.
 */
function toPortableSource(pattern: string): string | undefined {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined || !PORTABLE_ESCAPES.has(next)) return undefined;
      out += c + next;
      i++;
    } else if (inClass) {
      if (c === '[' && pattern[i + 1] === ':') return undefined;
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') out += pattern[++i];
      if (pattern[i + 1] === ']') out += pattern[++i];
    } else if (c === '(' && pattern[i + 1] === '?') {
      if (pattern[i + 2] !== ':') return undefined;
      out += c;
    } else if (c === '.') {
      out += '[^\\n]';
    } else {
      out += c;
    }
  }
  return out;
}

/** The native RegExp, if V8's linear engine can run it (so the backtracking fallback applies). */
function linearSafeRegExp(source: string): RegExp | undefined {
  try {
    new RegExp(source, 'l');
  } catch {
    return undefined;
  }
  try {
    return new RegExp(source);
  } catch {
    return undefined;
  }
}

/** Whether V8 accepts the linear-engine flag at all (it needs the flag set before use). */
export function nativeLinearEngineAvailable(): boolean {
  try {
    new RegExp('a', 'l');
    return true;
  } catch {
    return false;
  }
}
