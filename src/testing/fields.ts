/**
 * Reading a PolicyTest document field by field: every problem (an unknown field such as
 * `expcet`, a wrong type) becomes an issue at the field's file:line, and reading goes on so
 * that one run lists every mistake.
 */
import { readFileSync } from 'node:fs';
import { closestName, type PolicyIssue, type SourceDocument } from '../policy/index.js';

export type Path = readonly (string | number)[];

export class FieldReader {
  constructor(
    readonly document: SourceDocument,
    readonly issues: PolicyIssue[],
  ) {}

  get file(): string {
    return this.document.file;
  }

  issue(path: Path, message: string): void {
    const { line, column } = this.document.positionOf(path);
    this.issues.push({ file: this.document.file, line, column, message, field: fieldPath(path) });
  }

  /**
   * An issue about a key rather than its value: positionOf gives where the value starts, which
   * for a block value is the next line, so look back from there for the key itself.
   */
  #keyIssue(path: Path, message: string): void {
    const key = String(path[path.length - 1]);
    const value = this.document.positionOf(path);
    const parent = this.document.positionOf(path.slice(0, -1));
    const lines = this.#lines();
    const pattern = new RegExp(`(^|[\\s{,])(["']?)${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\2\\s*:`);
    for (let line = value.line; line >= parent.line && line >= 1; line--) {
      const text = line === value.line ? (lines[line - 1] ?? '').slice(0, value.column - 1) : (lines[line - 1] ?? '');
      const match = pattern.exec(text);
      if (match) {
        this.issues.push({ file: this.document.file, line, column: match.index + match[1]!.length + 1, message, field: fieldPath(path) });
        return;
      }
    }
    this.issue(path, message);
  }

  #text: string[] | undefined;
  #lines(): string[] {
    if (!this.#text) {
      try {
        this.#text = readFileSync(this.document.file, 'utf8').split('\n');
      } catch {
        this.#text = [];
      }
    }
    return this.#text;
  }

  /** `file:line` of a field, for reports. */
  where(path: Path): string {
    return `${this.document.file}:${this.document.positionOf(path).line}`;
  }

  line(path: Path): number {
    return this.document.positionOf(path).line;
  }

  /** A mapping whose keys must all be in `allowed`; unknown keys are issues with a suggestion. */
  mapping(value: unknown, path: Path, allowed: readonly string[]): Record<string, unknown> | undefined {
    if (!isMapping(value)) {
      this.issue(path, `${fieldPath(path) || 'document'} must be a mapping`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (allowed.includes(key)) continue;
      const closest = closestName(key, allowed);
      const hint = closest ? `did you mean '${closest}'?` : `known fields: ${allowed.join(', ')}`;
      this.#keyIssue([...path, key], `unknown field '${key}': ${hint}`);
    }
    return value;
  }

  string(value: unknown, path: Path): string | undefined {
    if (typeof value === 'string') return value;
    this.issue(path, `${fieldPath(path)} must be a string`);
    return undefined;
  }

  boolean(value: unknown, path: Path): boolean | undefined {
    if (typeof value === 'boolean') return value;
    this.issue(path, `${fieldPath(path)} must be true or false`);
    return undefined;
  }

  integer(value: unknown, path: Path): number | undefined {
    if (typeof value === 'bigint') return Number(value);
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    this.issue(path, `${fieldPath(path)} must be an integer`);
    return undefined;
  }

  list(value: unknown, path: Path): unknown[] | undefined {
    if (Array.isArray(value)) return value;
    this.issue(path, `${fieldPath(path)} must be a list`);
    return undefined;
  }

  stringList(value: unknown, path: Path): string[] | undefined {
    const items = this.list(value, path);
    if (!items) return undefined;
    const out: string[] = [];
    items.forEach((item, i) => {
      const s = this.string(item, [...path, i]);
      if (s !== undefined) out.push(s);
    });
    return out.length === items.length ? out : undefined;
  }

  stringMap(value: unknown, path: Path): Record<string, string> | undefined {
    if (!isMapping(value)) {
      this.issue(path, `${fieldPath(path)} must be a mapping of strings`);
      return undefined;
    }
    const out: Record<string, string> = {};
    let ok = true;
    for (const [key, item] of Object.entries(value)) {
      const s = this.string(item, [...path, key]);
      if (s === undefined) ok = false;
      else out[key] = s;
    }
    return ok ? out : undefined;
  }
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function fieldPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}


/** YAML integers are bigints (CEL ints); the engines take objects as a webhook receives them: plain JSON. */
export function toPlainJson(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(toPlainJson);
  if (isMapping(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = toPlainJson(item);
    return out;
  }
  return value;
}
