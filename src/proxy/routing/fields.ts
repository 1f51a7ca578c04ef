/**
 * Reading fields of one Istio resource with every problem reported as a PolicyIssue at the
 * field's file:line:col. Readers return undefined for an absent field and for a bad one
 * (after reporting it), so callers can skip just the bad part; `issueCount` tells a caller
 * whether anything inside a part it parsed went wrong.
 */
import type { PolicyIssue, PolicyResource } from '../../policy/index.js';
import { closestName } from '../../policy/index.js';

export type FieldPath = readonly (string | number)[];

export type Data = Readonly<Record<string, unknown>>;

/** `spec.http[0].route[0].weight` */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

export class FieldReader {
  constructor(
    readonly resource: PolicyResource,
    private readonly issues: PolicyIssue[],
  ) {}

  get issueCount(): number {
    return this.issues.length;
  }

  /** `namespace/name` of the resource. */
  get ref(): string {
    return `${this.namespace}/${this.resource.name}`;
  }

  /** Istio's default when metadata.namespace is absent: the `default` namespace. */
  get namespace(): string {
    return this.resource.namespace ?? 'default';
  }

  report(path: FieldPath, message: string): void {
    const { line, column } = this.resource.document.positionOf(path);
    const field = formatPath(path);
    this.issues.push({
      file: this.resource.document.file,
      line,
      column,
      message: `${this.resource.type.kind} ${this.ref}: ${field}: ${message}`,
      field,
    });
  }

  object(value: unknown, path: FieldPath): Data | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.report(path, 'must be a mapping');
      return undefined;
    }
    return value as Data;
  }

  array(value: unknown, path: FieldPath): readonly unknown[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) {
      this.report(path, 'must be a list');
      return undefined;
    }
    return value;
  }

  string(value: unknown, path: FieldPath): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      this.report(path, 'must be a string');
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: FieldPath): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.report(path, 'must be true or false');
      return undefined;
    }
    return value;
  }

  /** An integer in [min, max]; YAML integers arrive as bigints. */
  integer(value: unknown, path: FieldPath, min: number, max: number): number | undefined {
    if (value === undefined || value === null) return undefined;
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.report(path, `must be an integer ${min}..${max}`);
      return undefined;
    }
    return n;
  }

  /** A number (integer or decimal) in [min, max]. */
  number(value: unknown, path: FieldPath, min: number, max: number): number | undefined {
    if (value === undefined || value === null) return undefined;
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
      this.report(path, `must be a number ${min}..${max}`);
      return undefined;
    }
    return n;
  }

  /** A map of strings; scalar values (`test: true`, as in Istio's own examples) become strings. */
  stringMap(value: unknown, path: FieldPath): Record<string, string> | undefined {
    const data = this.object(value, path);
    if (!data) return undefined;
    const out: Record<string, string> = {};
    for (const [key, v] of Object.entries(data)) {
      if (typeof v === 'string') out[key] = v;
      else if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') out[key] = String(v);
      else this.report([...path, key], 'must be a string');
    }
    return out;
  }

  stringList(value: unknown, path: FieldPath): string[] | undefined {
    const list = this.array(value, path);
    if (!list) return undefined;
    const out: string[] = [];
    list.forEach((item, i) => {
      const s = this.string(item, [...path, i]);
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  /** One of the allowed names (Istio enums are upper-case strings). */
  enumValue<T extends string>(value: unknown, path: FieldPath, allowed: readonly T[]): T | undefined {
    const s = this.string(value, path);
    if (s === undefined) return undefined;
    if ((allowed as readonly string[]).includes(s)) return s as T;
    const near = closestName(s, allowed);
    this.report(path, `unknown value '${s}'; expected one of ${allowed.join(', ')}${near ? ` (did you mean ${near}?)` : ''}`);
    return undefined;
  }

  /** Reports fields the Istio schema does not have (the CRD would reject them). */
  knownFields(data: Data, path: FieldPath, known: readonly string[]): void {
    for (const key of Object.keys(data)) {
      if (known.includes(key)) continue;
      const near = closestName(key, known);
      this.report([...path, key], `unknown field '${key}'${near ? ` (did you mean ${near}?)` : ''}`);
    }
  }
}
