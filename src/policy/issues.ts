/** A problem found in a policy file, always pointing at a file and line. */
export interface PolicyIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** The field the problem is in, e.g. `spec.validations[0].expression`. */
  readonly field?: string;
}

export function formatIssue(issue: PolicyIssue): string {
  const field = issue.field ? ` (${issue.field})` : '';
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.message}${field}`;
}

/** Thrown when a set of files does not load; carries every issue, not just the first. */
export class PolicyLoadError extends Error {
  constructor(readonly issues: readonly PolicyIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'PolicyLoadError';
  }
}
