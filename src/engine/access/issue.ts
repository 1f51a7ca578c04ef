/** Recording a problem at a field of a policy resource, and small shape checks. */
import { fieldName, type PolicyIssue, type PolicyResource } from '../../policy/index.js';

export type FieldPath = readonly (string | number)[];

export function issueAt(resource: PolicyResource, issues: PolicyIssue[], path: FieldPath, message: string): void {
  const { line, column } = resource.document.positionOf(path);
  issues.push({ file: resource.document.file, line, column, message, field: fieldName(path) });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A list of strings at `path`; records an issue and returns [] for anything else. Numbers
 * (ports written without quotes are bigints after loading) become their decimal text.
 */
export function stringList(resource: PolicyResource, issues: PolicyIssue[], value: unknown, path: FieldPath): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    issueAt(resource, issues, path, `${fieldName(path)} must be a list of strings`);
    return [];
  }
  const out: string[] = [];
  value.forEach((item, i) => {
    if (typeof item === 'string') out.push(item);
    else if (typeof item === 'bigint' || typeof item === 'number') out.push(String(item));
    else issueAt(resource, issues, [...path, i], `${fieldName([...path, i])} must be a string`);
  });
  return out;
}
