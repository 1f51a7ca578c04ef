/**
 * Istio StringMatch ({exact}, {prefix}, {regex}) compiled to a predicate. Regexes are RE2
 * and must match the whole value (Envoy's safe_regex is a full match); they run through
 * src/cel/regex.ts, which never backtracks on user patterns.
 */
import { RE2JS } from 're2js';
import { re2 } from '../../cel/regex.js';
import type { FieldPath, FieldReader } from './fields.js';

export type StringMatcher =
  | { readonly kind: 'exact'; readonly value: string; readonly ignoreCase: boolean; test(s: string): boolean }
  | { readonly kind: 'prefix'; readonly value: string; readonly ignoreCase: boolean; test(s: string): boolean }
  | { readonly kind: 'regex'; readonly value: string; test(s: string): boolean }
  /** `{}`: for headers and query parameters, "present"; elsewhere it matches anything. */
  | { readonly kind: 'present'; test(s: string): boolean };

/** The reason `pattern` is not valid RE2, or undefined. */
export function re2Problem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** A full-match RE2 predicate; `pattern` must already be valid. */
export function fullMatch(pattern: string): (s: string) => boolean {
  const compiled = re2(`^(?:${pattern})$`);
  return (s) => compiled.test(s);
}

export function exactMatcher(value: string, ignoreCase = false): StringMatcher {
  if (!ignoreCase) return { kind: 'exact', value, ignoreCase, test: (s) => s === value };
  const lower = value.toLowerCase();
  return { kind: 'exact', value, ignoreCase, test: (s) => s.length === lower.length && s.toLowerCase() === lower };
}

export function prefixMatcher(value: string, ignoreCase = false): StringMatcher {
  if (!ignoreCase) return { kind: 'prefix', value, ignoreCase, test: (s) => s.startsWith(value) };
  const lower = value.toLowerCase();
  return {
    kind: 'prefix',
    value,
    ignoreCase,
    test: (s) => s.length >= lower.length && s.slice(0, lower.length).toLowerCase() === lower,
  };
}

const PRESENT: StringMatcher = { kind: 'present', test: () => true };

/**
 * Reads a StringMatch. Exactly one of exact/prefix/regex, or none (`{}`). `ignoreCase`
 * applies to exact and prefix only, as Istio's `ignoreUriCase` does.
 */
export function readStringMatch(
  reader: FieldReader,
  value: unknown,
  path: FieldPath,
  ignoreCase = false,
): StringMatcher | undefined {
  const data = reader.object(value, path);
  if (!data) return undefined;
  reader.knownFields(data, path, ['exact', 'prefix', 'regex']);
  const set = (['exact', 'prefix', 'regex'] as const).filter((k) => data[k] !== undefined && data[k] !== null);
  if (set.length > 1) {
    reader.report(path, `set only one of exact, prefix or regex (found ${set.join(' and ')})`);
    return undefined;
  }
  if (set.length === 0) return PRESENT;
  const kind = set[0]!;
  const text = reader.string(data[kind], [...path, kind]);
  if (text === undefined) return undefined;
  switch (kind) {
    case 'exact':
      return exactMatcher(text, ignoreCase);
    case 'prefix':
      return prefixMatcher(text, ignoreCase);
    case 'regex': {
      const problem = re2Problem(text);
      if (problem) {
        reader.report([...path, 'regex'], `invalid RE2 regular expression ${JSON.stringify(text)}: ${problem}`);
        return undefined;
      }
      return { kind: 'regex', value: text, test: fullMatch(text) };
    }
  }
}

/** A JSON-able description for config dumps. */
export function describeMatcher(m: StringMatcher): unknown {
  if (m.kind === 'present') return { present: true };
  if (m.kind === 'regex') return { regex: m.value };
  return m.ignoreCase ? { [m.kind]: m.value, ignoreCase: true } : { [m.kind]: m.value };
}
