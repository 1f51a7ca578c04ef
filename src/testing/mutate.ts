/**
 * Mutation checking: change one thing in one policy (negate a condition, drop one side of a
 * top-level `&&`/`||`, swap `==`/`!=`, remove a validation, condition or rule), recompile with
 * the engine, and re-run the suites that use the policy. A mutant no case notices shows a hole
 * in the tests.
 */
import { stringLiteralEnd } from '../cel/index.js';
import type { PolicyIssue, PolicyResource } from '../policy/index.js';
import { relativeSource } from './compare.js';
import { compileSet, type CompiledSet } from './engines.js';
import { isMapping } from './fields.js';
import { runSuites, type LoadedSuite } from './runner.js';

export interface Mutant {
  /** `file:line` of what was changed. */
  readonly location: string;
  readonly policy: string;
  readonly description: string;
  readonly resources: readonly PolicyResource[];
}

export interface MutantResult {
  readonly location: string;
  readonly policy: string;
  readonly description: string;
  readonly status: 'killed' | 'survived' | 'invalid';
  /** The case that noticed the mutant. */
  readonly killedBy?: string;
}

export interface MutationReport {
  readonly results: readonly MutantResult[];
  readonly killed: number;
  readonly survived: number;
  readonly invalid: number;
  /** killed / (killed + survived), in percent. */
  readonly score: number;
}

type Path = (string | number)[];

/** The indexes of an expression's characters at bracket depth 0 and outside string literals. */
function* topLevelIndexes(text: string): Generator<number> {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const skip = stringLiteralEnd(text, i);
    if (skip > i) {
      i = skip - 1;
      continue;
    }
    const c = text[i]!;
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0) yield i;
  }
}

/** Splits at depth-0 occurrences of `op` outside string literals; one part when there is none. */
export function splitTopLevel(text: string, op: '&&' | '||'): string[] {
  const parts: string[] = [];
  let start = 0;
  for (const i of topLevelIndexes(text)) {
    if (i < start || !text.startsWith(op, i)) continue;
    parts.push(text.slice(start, i));
    start = i + 2;
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** Whether the expression has a top-level conditional (`a ? b : c`), which binds looser than `||`. */
function hasTopLevelTernary(text: string): boolean {
  for (const i of topLevelIndexes(text)) if (text[i] === '?') return true;
  return false;
}


/** Offsets of `==` and `!=` outside string literals. */
function equalityOperators(text: string): number[] {
  const found: number[] = [];
  for (let i = 0; i < text.length - 1; i++) {
    const skip = stringLiteralEnd(text, i);
    if (skip > i) {
      i = skip - 1;
      continue;
    }
    if ((text[i] === '=' || text[i] === '!') && text[i + 1] === '=' && text[i + 2] !== '=') found.push(i);
  }
  return found;
}

/** The textual mutations of one condition. */
export function expressionMutations(text: string): { text: string; description: string }[] {
  const out: { text: string; description: string }[] = [{ text: `!(${text})`, description: 'negated' }];
  if (!hasTopLevelTernary(text)) {
    for (const op of ['||', '&&'] as const) {
      const parts = splitTopLevel(text, op);
      if (parts.length < 2) continue;
      parts.forEach((_, i) => {
        const kept = parts.filter((__, j) => j !== i);
        out.push({ text: kept.map((p) => `(${p})`).join(` ${op} `), description: `dropped operand ${i + 1} of top-level ${op}` });
      });
      break; // `||` binds loosest: only its operands are top-level when it is present.
    }
  }
  for (const at of equalityOperators(text).slice(0, 8)) {
    const swapped = text[at] === '=' ? '!=' : '==';
    out.push({ text: `${text.slice(0, at)}${swapped}${text.slice(at + 2)}`, description: `swapped ${text.slice(at, at + 2)} for ${swapped} at column ${at + 1}` });
  }
  return out;
}

function getIn(value: unknown, path: Path): unknown {
  let v = value;
  for (const p of path) v = isMapping(v) || Array.isArray(v) ? (v as Record<string | number, unknown>)[p] : undefined;
  return v;
}

function setIn(value: Record<string, unknown>, path: Path, next: unknown): void {
  const parent = getIn(value, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = next;
}

/** Paths of conditions to mutate and list entries to remove, per kind. */
function targets(resource: PolicyResource): { conditions: Path[]; removable: Path[] } {
  const conditions: Path[] = [];
  const removable: Path[] = [];
  const spec = resource.value.spec;
  const each = (list: string, field: string | undefined, removeWhen: (n: number) => boolean): void => {
    const items = isMapping(spec) ? spec[list] : undefined;
    if (!Array.isArray(items)) return;
    items.forEach((item, i) => {
      if (field && isMapping(item) && typeof item[field] === 'string') conditions.push(['spec', list, i, field]);
      if (removeWhen(items.length)) removable.push(['spec', list, i]);
    });
  };
  if (resource.type.face === 'admission') {
    each('validations', 'expression', (n) => n > 1);
    each('matchConditions', 'expression', () => true);
    each('mutations', undefined, (n) => n > 1);
  } else {
    each('rules', undefined, () => true);
    // Conditions anywhere in an access policy (AccessPolicy `condition`, rule `when` expressions).
    const walk = (v: unknown, path: Path): void => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
      else if (isMapping(v)) {
        for (const [k, x] of Object.entries(v)) {
          if ((k === 'condition' || k === 'expression') && typeof x === 'string') conditions.push([...path, k]);
          else walk(x, [...path, k]);
        }
      }
    };
    walk(spec, ['spec']);
  }
  return { conditions, removable };
}

export function* mutantsOf(resources: readonly PolicyResource[]): Generator<Mutant> {
  for (let r = 0; r < resources.length; r++) {
    const resource = resources[r]!;
    const { conditions, removable } = targets(resource);
    const at = (path: Path): string => `${resource.document.file}:${resource.document.contentPositionOf(path).line}`;
    const replaced = (value: Record<string, unknown>): PolicyResource[] => resources.map((x, i) => (i === r ? { ...x, value } : x));
    for (const path of conditions) {
      const text = getIn(resource.value, path) as string;
      for (const mutation of expressionMutations(text)) {
        const value = structuredClone(resource.value);
        setIn(value, path, mutation.text);
        yield { location: at(path), policy: resource.name, description: `${path.join('.')}: ${mutation.description}`, resources: replaced(value) };
      }
    }
    for (const path of removable) {
      const value = structuredClone(resource.value);
      (getIn(value, path.slice(0, -1)) as unknown[]).splice(path[path.length - 1] as number, 1);
      yield { location: at(path), policy: resource.name, description: `removed ${path.join('.')}`, resources: replaced(value) };
    }
  }
}

/** Runs every suite against every mutant of the policies it uses. */
export async function mutationCheck(loaded: readonly LoadedSuite[]): Promise<MutationReport> {
  // Only cases that pass against the real policies can tell a mutant apart.
  const baseline = await runSuites(loaded);
  const passing = new Set(baseline.results.filter((r) => r.status === 'pass').map((r) => r.testCase));
  const bySet = new Map<CompiledSet, LoadedSuite[]>();
  for (const entry of loaded) {
    const cases = entry.suite.cases.filter((c) => passing.has(c));
    if (cases.length === 0) continue;
    bySet.set(entry.set, [...(bySet.get(entry.set) ?? []), { ...entry, suite: { ...entry.suite, cases } }]);
  }
  const results: MutantResult[] = [];
  for (const [set, suites] of bySet) {
    for (const mutant of mutantsOf(set.resources)) {
      const base = { location: mutant.location, policy: mutant.policy, description: mutant.description };
      const issues: PolicyIssue[] = [];
      let mutantSet: CompiledSet;
      try {
        mutantSet = compileSet(mutant.resources, issues);
      } catch {
        results.push({ ...base, status: 'invalid' });
        continue;
      }
      if (issues.length > 0) {
        results.push({ ...base, status: 'invalid' });
        continue;
      }
      const run = await runSuites(suites, { failFast: true, setFor: () => mutantSet });
      const failure = run.results.find((r) => r.status === 'fail');
      results.push(failure ? { ...base, status: 'killed', killedBy: `${failure.suite.name} › ${failure.testCase.name}` } : { ...base, status: 'survived' });
    }
  }
  const killed = results.filter((r) => r.status === 'killed').length;
  const survived = results.filter((r) => r.status === 'survived').length;
  const invalid = results.length - killed - survived;
  const score = killed + survived === 0 ? 100 : Math.floor((killed / (killed + survived)) * 1000) / 10;
  return { results, killed, survived, invalid, score };
}

export function mutationText(report: MutationReport): string[] {
  const lines = report.results.filter((r) => r.status === 'survived').map((r) => `  SURVIVED  ${relativeSource(r.location)}  ${r.policy} ${r.description}`);
  lines.push(`mutation score: ${report.score}% (${report.killed} killed, ${report.survived} survived${report.invalid ? `, ${report.invalid} invalid` : ''})`);
  return lines;
}
