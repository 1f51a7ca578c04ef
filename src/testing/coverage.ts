/**
 * Expression coverage across a test run, from the engines' onExpression events: for each
 * expression (by file:line) whether it ran, and for conditions whether it was ever true and
 * ever false. Written as text, JSON and lcov (DA for lines, BRDA for the true/false branches).
 */
import { relativeSource } from './compare.js';
import type { Outcome } from './engines.js';
import { expressionFields, fieldName, type PolicyResource } from '../policy/index.js';

export interface CoverageItem {
  readonly policy: string;
  readonly field: string;
  readonly file: string;
  readonly line: number;
  /** A condition has two branches (true, false); a value expression (variable, message) one. */
  boolean: boolean;
  hits: number;
  trueHits: number;
  falseHits: number;
  errors: number;
}

/** Fields whose value decides something: they count as covered only once seen true and false. */
const CONDITION_FIELD = /(matchConditions\[\d+\]\.expression|validations\[\d+\]\.expression|condition|when)/;

export class Coverage {
  readonly #items = new Map<string, CoverageItem>();
  readonly #byLine = new Map<string, CoverageItem[]>();

  /** Registers every CEL expression of the policies, so ones never evaluated count as missed. */
  addResources(resources: readonly PolicyResource[]): void {
    for (const resource of resources) {
      if (resource.type.face === 'authz') this.#addRules(resource);
      for (const { path } of expressionFields(resource)) {
        const field = fieldName(path);
        const line = resource.document.contentPositionOf(path).line;
        this.#item(resource.name, field, resource.document.file, line, CONDITION_FIELD.test(field));
      }
    }
  }

  /** Access rules count as covered once some request matched them (they hold no CEL of their own). */
  #addRules(resource: PolicyResource): void {
    const spec = resource.value.spec as { rules?: unknown } | undefined;
    if (!Array.isArray(spec?.rules)) return;
    spec.rules.forEach((rule, i) => {
      const name = typeof (rule as { name?: unknown })?.name === 'string' ? (rule as { name: string }).name : String(i);
      const item = this.#item(resource.name, `spec.rules[${i}]`, resource.document.file, resource.document.positionOf(['spec', 'rules', i]).line, false);
      this.#rules.set(`${resource.name}\0${name}`, item);
    });
  }

  readonly #rules = new Map<string, CoverageItem>();

  /** Records the rules an access decision matched (MatchedRule.policy is `namespace/name`). */
  recordOutcome(outcome: Outcome): void {
    if (outcome.face !== 'access') return;
    for (const m of outcome.decision.matched) {
      const item = this.#rules.get(`${m.policy.slice(m.policy.indexOf('/') + 1)}\0${m.rule}`);
      if (item) item.hits++;
    }
  }

  /** The listener to hand to the engines. */
  readonly listener = (event: unknown): void => {
    const e = event as Record<string, unknown>;
    const file = typeof e.file === 'string' ? e.file : undefined;
    const line = typeof e.line === 'number' ? e.line : undefined;
    const field = typeof e.field === 'string' ? e.field : '';
    if (file === undefined || line === undefined) return;
    const outcome = String(e.outcome ?? e.result ?? '');
    const candidates = this.#byLine.get(`${file}:${line}`);
    const item =
      candidates?.find((c) => c.field === field) ??
      (candidates?.length === 1 ? candidates[0] : undefined) ??
      // Access events are all conditions; admission events carry their binding and say true for any value.
      this.#item(String(e.policy ?? ''), field, file, line, CONDITION_FIELD.test(field) || !('binding' in e));
    item.hits++;
    if (outcome === 'true') item.trueHits++;
    else if (outcome === 'false') {
      item.falseHits++;
      item.boolean = true;
    } else if (outcome === 'error') item.errors++;
  };

  #item(policy: string, field: string, file: string, line: number, boolean: boolean): CoverageItem {
    const key = `${file}:${line}:${field}`;
    let item = this.#items.get(key);
    if (!item) {
      item = { policy, field, file, line, boolean, hits: 0, trueHits: 0, falseHits: 0, errors: 0 };
      this.#items.set(key, item);
      const at = `${file}:${line}`;
      this.#byLine.set(at, [...(this.#byLine.get(at) ?? []), item]);
    }
    return item;
  }

  items(): CoverageItem[] {
    return [...this.#items.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || (a.field < b.field ? -1 : 1)));
  }

  /** Covered points over all points: a condition has two (true, false), a value expression one. */
  totals(): { covered: number; total: number; percent: number } {
    let covered = 0;
    let total = 0;
    for (const item of this.#items.values()) {
      if (item.boolean) {
        total += 2;
        covered += (item.trueHits > 0 ? 1 : 0) + (item.falseHits > 0 ? 1 : 0);
      } else {
        total += 1;
        covered += item.hits > 0 ? 1 : 0;
      }
    }
    return { covered, total, percent: total === 0 ? 100 : Math.floor((covered / total) * 1000) / 10 };
  }

  /** What is missing from each expression, e.g. `never false`. */
  static gaps(item: CoverageItem): string[] {
    if (item.hits === 0) return [item.field.startsWith('spec.rules[') ? 'never matched' : 'never evaluated'];
    if (!item.boolean) return [];
    const gaps: string[] = [];
    if (item.trueHits === 0) gaps.push('never true');
    if (item.falseHits === 0) gaps.push('never false');
    return gaps;
  }

  text(): string[] {
    const { covered, total, percent } = this.totals();
    const lines = [`coverage: ${percent}% (${covered}/${total} branches and expressions)`];
    for (const item of this.items()) {
      const gaps = Coverage.gaps(item);
      if (gaps.length) lines.push(`  ${relativeSource(item.file)}:${item.line}  ${item.policy} ${item.field}: ${gaps.join(', ')}`);
    }
    return lines;
  }

  json(): Record<string, unknown> {
    return {
      ...this.totals(),
      expressions: this.items().map((i) => ({
        policy: i.policy,
        field: i.field,
        file: i.file,
        line: i.line,
        evaluated: i.hits,
        ...(i.boolean ? { true: i.trueHits, false: i.falseHits } : {}),
        errors: i.errors,
      })),
    };
  }

  /** lcov tracefile: DA per expression line; BRDA per condition (branch 0 = true, 1 = false). */
  lcov(): string {
    const byFile = new Map<string, CoverageItem[]>();
    for (const item of this.items()) byFile.set(item.file, [...(byFile.get(item.file) ?? []), item]);
    const out: string[] = [];
    for (const [file, items] of byFile) {
      out.push('TN:', `SF:${file}`);
      const lines = new Map<number, number>();
      for (const item of items) lines.set(item.line, (lines.get(item.line) ?? 0) + item.hits);
      let found = 0;
      let hit = 0;
      items.forEach((item, block) => {
        if (!item.boolean) return;
        const taken = (n: number): string => (item.hits === 0 ? '-' : String(n));
        out.push(`BRDA:${item.line},${block},0,${taken(item.trueHits)}`, `BRDA:${item.line},${block},1,${taken(item.falseHits)}`);
        found += 2;
        hit += (item.trueHits > 0 ? 1 : 0) + (item.falseHits > 0 ? 1 : 0);
      });
      out.push(`BRF:${found}`, `BRH:${hit}`);
      for (const [line, hits] of lines) out.push(`DA:${line},${hits}`);
      out.push(`LF:${lines.size}`, `LH:${[...lines.values()].filter((h) => h > 0).length}`, 'end_of_record');
    }
    return out.join('\n') + '\n';
  }
}
