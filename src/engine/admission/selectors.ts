/**
 * Kubernetes label selectors (metav1.LabelSelector): matchLabels and matchExpressions
 * with In, NotIn, Exists, DoesNotExist. Parsed once at compile time.
 */

export type LabelSet = Readonly<Record<string, string>>;

interface Requirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values: ReadonlySet<string>;
}

export interface LabelSelector {
  /** True for `{}` (or an absent selector): matches everything. */
  readonly empty: boolean;
  matches(labels: LabelSet | undefined): boolean;
}

export const EVERYTHING: LabelSelector = Object.freeze({ empty: true, matches: () => true });

const OPERATORS: ReadonlySet<string> = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);

/** Parses a selector; returns an error text naming the field when it is malformed. */
export function parseLabelSelector(value: unknown, field: string): LabelSelector | { error: string } {
  if (value === undefined || value === null) return EVERYTHING;
  if (typeof value !== 'object' || Array.isArray(value)) return { error: `${field} must be a label selector (matchLabels, matchExpressions)` };
  const spec = value as { matchLabels?: unknown; matchExpressions?: unknown };
  const requirements: Requirement[] = [];
  if (spec.matchLabels !== undefined && spec.matchLabels !== null) {
    if (typeof spec.matchLabels !== 'object' || Array.isArray(spec.matchLabels)) return { error: `${field}.matchLabels must be a map of strings` };
    for (const [key, v] of Object.entries(spec.matchLabels)) {
      requirements.push({ key, operator: 'In', values: new Set([String(v)]) });
    }
  }
  if (spec.matchExpressions !== undefined && spec.matchExpressions !== null) {
    if (!Array.isArray(spec.matchExpressions)) return { error: `${field}.matchExpressions must be a list` };
    for (const [i, raw] of spec.matchExpressions.entries()) {
      const where = `${field}.matchExpressions[${i}]`;
      const expr = raw as { key?: unknown; operator?: unknown; values?: unknown };
      if (typeof expr?.key !== 'string' || expr.key === '') return { error: `${where}.key is required` };
      if (typeof expr.operator !== 'string' || !OPERATORS.has(expr.operator)) {
        return { error: `${where}.operator must be one of In, NotIn, Exists, DoesNotExist` };
      }
      const values = Array.isArray(expr.values) ? expr.values.map(String) : [];
      const operator = expr.operator as Requirement['operator'];
      // Kubernetes rejects In/NotIn without values and Exists/DoesNotExist with values.
      if ((operator === 'In' || operator === 'NotIn') && values.length === 0) return { error: `${where}.values must be non-empty for ${operator}` };
      if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) return { error: `${where}.values must be empty for ${operator}` };
      requirements.push({ key: expr.key, operator, values: new Set(values) });
    }
  }
  if (requirements.length === 0) return EVERYTHING;
  return Object.freeze({ empty: false, matches: (labels: LabelSet | undefined) => requirements.every((r) => satisfies(r, labels ?? {})) });
}

function satisfies(requirement: Requirement, labels: LabelSet): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, requirement.key);
  switch (requirement.operator) {
    case 'In':
      return has && requirement.values.has(labels[requirement.key]!);
    case 'NotIn':
      return !has || !requirement.values.has(labels[requirement.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

/** metadata.labels of a JSON object, or undefined. */
export function labelsOf(object: unknown): LabelSet | undefined {
  if (typeof object !== 'object' || object === null) return undefined;
  const metadata = (object as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const labels = (metadata as { labels?: unknown }).labels;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return undefined;
  return labels as LabelSet;
}
