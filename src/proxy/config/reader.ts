/**
 * A small typed reader over a parsed YAML document: every accessor checks a type, and every
 * problem is recorded with the node's line and column and the field's dotted path, so one
 * pass over a config file reports all of its problems at once.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair, type YAMLMap } from 'yaml';
import { closestName } from '../../policy/names.js';
import { parseDuration, parseSize } from './units.js';

export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Dotted path like `spec.listeners[1].port`; empty for problems with the whole file. */
  readonly field: string;
  readonly message: string;
}

export function formatConfigIssue(issue: ConfigIssue): string {
  const field = issue.field ? `${issue.field}: ` : '';
  return `${issue.file}:${issue.line}:${issue.column}: ${field}${issue.message}`;
}

/** A YAML node together with the path that led to it (undefined node: the field is absent). */
export interface Field {
  readonly path: string;
  readonly node: Node | undefined;
  /** Node to point at when the value is absent: the enclosing mapping. */
  readonly parent: Node | undefined;
}

export class Reader {
  readonly issues: ConfigIssue[] = [];

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Records a problem at a field: its value, or where it should be when it is absent. */
  problem(field: Field, message: string): void {
    this.report(field.node ?? field.parent, field.path, message);
  }

  report(node: Node | undefined, path: string, message: string): void {
    const offset = node?.range?.[0] ?? this.doc.contents?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    this.issues.push({ file: this.file, line, column: col, field: path, message });
  }

  root(): Field {
    return { path: '', node: this.#resolve(this.doc.contents ?? undefined), parent: undefined };
  }

  /**
   * Reads a mapping, reporting fields not in `known` (with the nearest known name as a hint).
   * Returns undefined (after reporting) when the node is not a mapping.
   */
  fields<K extends string>(field: Field, known: readonly K[]): Record<K, Field> | undefined {
    if (field.node === undefined) return undefined;
    if (!isMap(field.node)) {
      this.report(field.node, field.path, `must be a mapping, found ${describe(field.node)}`);
      return undefined;
    }
    const map = field.node as YAMLMap;
    const out = {} as Record<K, Field>;
    for (const name of known) out[name] = { path: join(field.path, name), node: undefined, parent: map };
    for (const pair of map.items as Pair<unknown, unknown>[]) {
      const keyNode = pair.key as Node | null;
      const name = isScalar(keyNode) ? String(keyNode.value) : undefined;
      if (name === undefined) {
        this.report(keyNode ?? map, field.path, 'keys must be plain strings');
        continue;
      }
      if (!(known as readonly string[]).includes(name)) {
        const hint = closestName(name, known);
        const suffix = hint ? ` (did you mean "${hint}"?)` : ` (known fields: ${known.join(', ')})`;
        this.report(keyNode ?? map, join(field.path, name), `unknown field${suffix}`);
        continue;
      }
      const value = this.#resolve((pair.value as Node | null) ?? undefined);
      // `field:` with nothing after it is null: treat as absent.
      const absent = value === undefined || (isScalar(value) && value.value === null);
      out[name as K] = { path: join(field.path, name), node: absent ? undefined : value, parent: keyNode ?? map };
    }
    return out;
  }

  items(field: Field): Field[] | undefined {
    if (field.node === undefined) return undefined;
    if (!isSeq(field.node)) {
      this.report(field.node, field.path, `must be a list, found ${describe(field.node)}`);
      return undefined;
    }
    return field.node.items.map((item, i) => ({
      path: `${field.path}[${i}]`,
      node: this.#resolve((item as Node | null) ?? undefined),
      parent: field.node,
    }));
  }

  string(field: Field, options: { required?: boolean; pattern?: RegExp; patternHint?: string } = {}): string | undefined {
    if (field.node === undefined) {
      if (options.required) this.problem(field, 'is required');
      return undefined;
    }
    const value = isScalar(field.node) ? field.node.value : undefined;
    if (typeof value !== 'string') {
      this.report(field.node, field.path, `must be a string, found ${describe(field.node)}${isScalar(field.node) ? ' (quote it)' : ''}`);
      return undefined;
    }
    if (value === '') {
      this.report(field.node, field.path, 'must not be empty');
      return undefined;
    }
    if (options.pattern && !options.pattern.test(value)) {
      this.report(field.node, field.path, `"${value}" ${options.patternHint ?? `does not match ${options.pattern}`}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(field: Field, values: readonly T[], options: { required?: boolean } = {}): T | undefined {
    const value = this.string(field, options);
    if (value === undefined) return undefined;
    if (!(values as readonly string[]).includes(value)) {
      const hint = closestName(value, values);
      this.report(field.node, field.path, `"${value}" is not one of ${values.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`);
      return undefined;
    }
    return value as T;
  }

  boolean(field: Field): boolean | undefined {
    if (field.node === undefined) return undefined;
    const value = isScalar(field.node) ? field.node.value : undefined;
    if (typeof value !== 'boolean') {
      this.report(field.node, field.path, `must be true or false, found ${describe(field.node)}`);
      return undefined;
    }
    return value;
  }

  integer(field: Field, options: { required?: boolean; min: number; max: number }): number | undefined {
    if (field.node === undefined) {
      if (options.required) this.problem(field, 'is required');
      return undefined;
    }
    const value = isScalar(field.node) ? field.node.value : undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.report(field.node, field.path, `must be an integer, found ${describe(field.node)}`);
      return undefined;
    }
    if (value < options.min || value > options.max) {
      this.report(field.node, field.path, `${value} is out of range ${options.min}..${options.max}`);
      return undefined;
    }
    return value;
  }

  /** A positive duration in milliseconds. */
  duration(field: Field, options: { allowZero?: boolean } = {}): number | undefined {
    if (field.node === undefined) return undefined;
    const raw = isScalar(field.node) ? field.node.value : undefined;
    if (typeof raw === 'number') {
      this.report(field.node, field.path, `duration ${raw} needs a unit (ms, s, m, h), e.g. "${raw}s"`);
      return undefined;
    }
    if (typeof raw !== 'string') {
      this.report(field.node, field.path, `must be a duration like "500ms" or "2s", found ${describe(field.node)}`);
      return undefined;
    }
    const ms = parseDuration(raw);
    if (typeof ms !== 'number') {
      this.report(field.node, field.path, ms.error);
      return undefined;
    }
    if (ms === 0 && !options.allowZero) {
      this.report(field.node, field.path, 'must be greater than zero');
      return undefined;
    }
    return ms;
  }

  size(field: Field): number | undefined {
    if (field.node === undefined) return undefined;
    const raw = isScalar(field.node) ? field.node.value : undefined;
    if (typeof raw !== 'number' && typeof raw !== 'string') {
      this.report(field.node, field.path, `must be a size like "10Mi" or a number of bytes, found ${describe(field.node)}`);
      return undefined;
    }
    const bytes = parseSize(raw);
    if (typeof bytes !== 'number') {
      this.report(field.node, field.path, bytes.error);
      return undefined;
    }
    return bytes;
  }

  /** A mapping of strings to strings (labels). */
  stringMap(field: Field): Record<string, string> | undefined {
    if (field.node === undefined) return undefined;
    if (!isMap(field.node)) {
      this.report(field.node, field.path, `must be a mapping, found ${describe(field.node)}`);
      return undefined;
    }
    const out: Record<string, string> = {};
    for (const pair of field.node.items as Pair<unknown, unknown>[]) {
      const keyNode = pair.key as Node | null;
      const key = isScalar(keyNode) ? keyNode.value : undefined;
      const valueNode = this.#resolve((pair.value as Node | null) ?? undefined);
      const value = isScalar(valueNode) ? valueNode.value : undefined;
      const path = join(field.path, String(key));
      if (typeof key !== 'string') this.report(keyNode ?? field.node, path, 'keys must be strings');
      else if (typeof value !== 'string') this.report(valueNode ?? keyNode ?? field.node, path, `must be a string, found ${describe(valueNode)} (quote it)`);
      else out[key] = value;
    }
    return out;
  }

  #resolve(node: Node | undefined): Node | undefined {
    if (node && isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? undefined;
    return node;
  }
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function describe(node: Node | undefined): string {
  if (node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return `the string "${v}"`;
    if (typeof v === 'number') return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
    if (typeof v === 'boolean') return `the boolean ${v}`;
    return typeof v;
  }
  return 'an unsupported value';
}
