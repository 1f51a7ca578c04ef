/**
 * Regular expressions: `matches` with RE2 semantics, and Kubernetes' regex library
 * (`find`, `findAll`). Literal patterns are compiled once, at compile time, so a bad
 * pattern is a compile error and evaluation never recompiles.
 */
import type { CelLibrary } from '../library.js';
import { re2, type Re2Pattern } from '../regex.js';
import { requireString } from './arguments.js';

function patternOf(value: unknown, fn: string): Re2Pattern {
  return re2(requireString(value, fn));
}

const limitOf = (n: bigint): number => (n < 0n ? -1 : Number(n));

export const regexLibrary: CelLibrary = {
  name: 'regex',
  register(r) {
    r.replaceMethod('matches', 1, (s: unknown, p: unknown) => patternOf(p, 'matches').test(requireString(s, 'matches')));
    r.fn('matches(string, string): bool', (s: string, p: string) => re2(p).test(s));
    r.fn('string.find(string): string', (s: string, p: string) => re2(p).find(s) ?? '');
    r.fn('string.findAll(string): list<string>', (s: string, p: string) => re2(p).findAll(s));
    r.fn('string.findAll(string, int): list<string>', (s: string, p: string, n: bigint) => re2(p).findAll(s, limitOf(n)));

    // Literal patterns: compile now (a bad one fails the compile), reuse forever.
    const literal = (literals: readonly unknown[]): Re2Pattern | undefined =>
      typeof literals[0] === 'string' ? re2(literals[0]) : undefined;
    r.specializeMethod('matches', 1, (lits) => {
      const p = literal(lits);
      return p && ((s: unknown) => p.test(requireString(s, 'matches')));
    });
    r.specializeMethod('find', 1, (lits) => {
      const p = literal(lits);
      return p && ((s: unknown) => p.find(requireString(s, 'find')) ?? '');
    });
    r.specializeMethod('findAll', 1, (lits) => {
      const p = literal(lits);
      return p && ((s: unknown) => p.findAll(requireString(s, 'findAll')));
    });
    r.specializeMethod('findAll', 2, (lits) => {
      const p = literal(lits);
      return p && ((s: unknown, _p: unknown, n: bigint) => p.findAll(requireString(s, 'findAll'), limitOf(n)));
    });
  },
};
