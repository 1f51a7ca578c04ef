/**
 * Compiling ValidatingAdmissionPolicy / MutatingAdmissionPolicy resources and their
 * bindings into the frozen form `admit` evaluates. Every problem becomes a PolicyIssue
 * at file:line:col; a broken policy never stops the others from loading.
 */
import { isDNS1123Subdomain, isQualifiedName } from '../../cel/lib/format-validators.js';
import { isCelIdentifier } from '../../cel/syntax.js';
import { compileField, fieldName, type PolicyIssue, type PolicyResource } from '../../policy/index.js';
import { MATCH_ALL, parseMatchResources, type FieldProblem } from './match.js';
import { parseLabelSelector } from './selectors.js';
import type {
  AdmissionPolicies,
  AuditAnnotation,
  Binding,
  FailurePolicy,
  Mutation,
  MutatingPolicy,
  NamedExpression,
  ParamKind,
  ParamRef,
  PolicyExpression,
  ValidatingPolicy,
  Validation,
  ValidationAction,
} from './policies.js';

type Path = readonly (string | number)[];

const BINDING_OF: Readonly<Record<string, string>> = {
  ValidatingAdmissionPolicyBinding: 'ValidatingAdmissionPolicy',
  MutatingAdmissionPolicyBinding: 'MutatingAdmissionPolicy',
};

/** Kubernetes StatusReasons a validation may name, with their HTTP codes. */
export const REASON_CODES: Readonly<Record<string, number>> = {
  Unauthorized: 401,
  Forbidden: 403,
  Invalid: 422,
  RequestEntityTooLarge: 413,
};

class ResourceReader {
  constructor(
    readonly resource: PolicyResource,
    private readonly issues: PolicyIssue[],
  ) {}

  get file(): string {
    return this.resource.document.file;
  }

  line(path: Path): number {
    return this.resource.document.positionOf(path).line;
  }

  issue(path: Path, message: string): void {
    const { line, column } = this.resource.document.positionOf(path);
    this.issues.push({ file: this.file, line, column, message, field: fieldName(path) });
  }

  problems(list: readonly FieldProblem[]): void {
    for (const p of list) this.issue(p.path, p.message);
  }

  get(path: Path): unknown {
    let value: unknown = this.resource.value;
    for (const key of path) {
      if (typeof value !== 'object' || value === null) return undefined;
      value = (value as Record<string | number, unknown>)[key];
    }
    return value;
  }

  list(path: Path): unknown[] {
    const value = this.get(path);
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.issue(path, `${fieldName(path)} must be a list`);
      return [];
    }
    return value;
  }

  optionalString(path: Path): string | undefined {
    const value = this.get(path);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      this.issue(path, `${fieldName(path)} must be a string`);
      return undefined;
    }
    return value;
  }

  requiredString(path: Path): string | undefined {
    const value = this.optionalString(path);
    if (value === undefined || value === '') this.issue(path, `${fieldName(path)} is required`);
    return value || undefined;
  }

  oneOf<T extends string>(path: Path, allowed: readonly T[], fallback: T): T {
    const value = this.get(path);
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    this.issue(path, `${fieldName(path)} must be one of ${allowed.join(', ')}`);
    return fallback;
  }

  /** Compiles the CEL text at `path`; a failure is an issue and leaves the expression without a program. */
  expression(path: Path): PolicyExpression | undefined {
    const text = this.requiredString(path);
    if (text === undefined) return undefined;
    const compiled = compileField(this.resource, path, text, this.issues);
    const base = { text, field: compiled.field, file: compiled.file, line: compiled.line };
    return Object.freeze(compiled.program ? { ...base, program: compiled.program } : { ...base, compileError: compiled.error });
  }

  /** Named expressions (matchConditions, variables); `nameProblems` gives what the API server says of a name it refuses. */
  namedExpressions(path: Path, what: string, nameProblems: (name: string) => readonly string[]): NamedExpression[] {
    const out: NamedExpression[] = [];
    const seen = new Set<string>();
    this.list(path).forEach((_, i) => {
      const name = this.requiredString([...path, i, 'name']);
      const expression = this.expression([...path, i, 'expression']);
      if (name === undefined || expression === undefined) return;
      for (const problem of nameProblems(name)) this.issue([...path, i, 'name'], `invalid ${what} name '${name}': ${problem}`);
      if (seen.has(name)) this.issue([...path, i, 'name'], `duplicate ${what} name '${name}'`);
      seen.add(name);
      out.push(Object.freeze({ name, expression }));
    });
    return out;
  }
}

/** Compiles every admission policy and binding in `resources`; other kinds are ignored. */
export function compileAdmissionPolicies(resources: readonly PolicyResource[], issues: PolicyIssue[]): AdmissionPolicies {
  const validating = new Map<string, Omit<ValidatingPolicy, 'bindings'>>();
  const mutating = new Map<string, Omit<MutatingPolicy, 'bindings'>>();
  const bindings: { reader: ResourceReader; binding: Binding; policyKind: string }[] = [];

  for (const resource of resources) {
    const reader = new ResourceReader(resource, issues);
    switch (resource.type.kind) {
      case 'ValidatingAdmissionPolicy':
        addUnique(validating, resource.name, compileValidating(reader), reader);
        break;
      case 'MutatingAdmissionPolicy':
        addUnique(mutating, resource.name, compileMutating(reader), reader);
        break;
      case 'ValidatingAdmissionPolicyBinding':
      case 'MutatingAdmissionPolicyBinding': {
        const binding = compileBinding(reader, resource.type.kind === 'ValidatingAdmissionPolicyBinding');
        if (binding) bindings.push({ reader, binding, policyKind: BINDING_OF[resource.type.kind]! });
        break;
      }
      default:
    }
  }

  const bound = new Map<string, Binding[]>();
  const bindingNames = new Set<string>();
  for (const { reader, binding, policyKind } of bindings) {
    const key = `${policyKind}/${binding.name}`;
    if (bindingNames.has(key)) {
      reader.issue(['metadata', 'name'], `duplicate ${policyKind}Binding '${binding.name}'`);
      continue;
    }
    bindingNames.add(key);
    const policies = policyKind === 'ValidatingAdmissionPolicy' ? validating : mutating;
    const policy = policies.get(binding.policyName);
    if (!policy) {
      reader.issue(['spec', 'policyName'], `${policyKind}Binding '${binding.name}' refers to ${policyKind} '${binding.policyName}', which is not loaded`);
      continue;
    }
    // A paramRef on a binding of a policy without paramKind is accepted and ignored, as by the API.
    const key2 = `${policyKind}/${binding.policyName}`;
    bound.set(key2, [...(bound.get(key2) ?? []), binding]);
  }

  const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const withBindings = <P extends { name: string; kind: string }>(p: P) =>
    Object.freeze({ ...p, bindings: Object.freeze((bound.get(`${p.kind}/${p.name}`) ?? []).sort(byName)) });
  return Object.freeze({
    validating: Object.freeze([...validating.values()].map(withBindings).sort(byName)) as readonly ValidatingPolicy[],
    mutating: Object.freeze([...mutating.values()].map(withBindings).sort(byName)) as readonly MutatingPolicy[],
  });
}

function addUnique<T>(map: Map<string, T>, name: string, value: T, reader: ResourceReader): void {
  if (map.has(name)) reader.issue(['metadata', 'name'], `duplicate ${reader.resource.type.kind} '${name}'`);
  else map.set(name, value);
}

function compileCommon(reader: ResourceReader) {
  const match = new Array<FieldProblem>();
  const constraints = reader.get(['spec', 'matchConstraints']);
  if (constraints === undefined || constraints === null) reader.issue(['spec'], 'spec.matchConstraints is required');
  const matchResources = parseMatchResources(constraints, ['spec', 'matchConstraints'], match);
  reader.problems(match);
  if (constraints && matchResources.resourceRules.length === 0) {
    reader.issue(['spec', 'matchConstraints'], 'spec.matchConstraints.resourceRules is required');
  }
  return {
    name: reader.resource.name,
    file: reader.file,
    line: reader.resource.document.position.line,
    failurePolicy: reader.oneOf<FailurePolicy>(['spec', 'failurePolicy'], ['Fail', 'Ignore'], 'Fail'),
    ...paramKindOf(reader),
    match: matchResources,
    matchConditions: Object.freeze(matchConditionsOf(reader)),
    variables: Object.freeze(reader.namedExpressions(['spec', 'variables'], 'variable', celIdentifierProblems)),
  };
}

/*
 * The API server's validation of these names (pkg/apis/admissionregistration/validation):
 * a matchCondition name is a qualified name (IsQualifiedName), at most 64 conditions; a variable
 * name is a CEL identifier that is not a reserved word (isCELIdentifier), since it is read as
 * `variables.NAME`.
 */
const MAX_MATCH_CONDITIONS = 64;

function celIdentifierProblems(name: string): readonly string[] {
  return isCelIdentifier(name) ? [] : ['name is not a valid CEL identifier'];
}

function matchConditionsOf(reader: ResourceReader): NamedExpression[] {
  const path = ['spec', 'matchConditions'];
  const conditions = reader.namedExpressions(path, 'matchCondition', isQualifiedName);
  const written = reader.get(path);
  if (Array.isArray(written) && written.length > MAX_MATCH_CONDITIONS) reader.issue(path, `spec.matchConditions must have at most ${MAX_MATCH_CONDITIONS} items`);
  return conditions;
}

function paramKindOf(reader: ResourceReader): { paramKind?: ParamKind } {
  const value = reader.get(['spec', 'paramKind']);
  if (value === undefined || value === null) return {};
  const apiVersion = reader.requiredString(['spec', 'paramKind', 'apiVersion']);
  const kind = reader.requiredString(['spec', 'paramKind', 'kind']);
  if (!apiVersion || !kind) return {};
  return { paramKind: Object.freeze({ apiVersion, kind }) };
}

function compileValidating(reader: ResourceReader): Omit<ValidatingPolicy, 'bindings'> {
  const common = compileCommon(reader);
  const validations: Validation[] = [];
  reader.list(['spec', 'validations']).forEach((_, i) => {
    const path = ['spec', 'validations', i];
    const expression = reader.expression([...path, 'expression']);
    if (!expression) return;
    const message = reader.optionalString([...path, 'message']);
    if (message !== undefined && /[\r\n]/.test(message)) reader.issue([...path, 'message'], 'message must not contain line breaks');
    const hasMessageExpression = reader.get([...path, 'messageExpression']) !== undefined;
    const messageExpression = hasMessageExpression ? reader.expression([...path, 'messageExpression']) : undefined;
    const reason = reader.optionalString([...path, 'reason']) ?? 'Invalid';
    if (!(reason in REASON_CODES)) {
      reader.issue([...path, 'reason'], `reason must be one of ${Object.keys(REASON_CODES).join(', ')}`);
    }
    validations.push(Object.freeze({ expression, ...(message !== undefined ? { message } : {}), ...(messageExpression ? { messageExpression } : {}), reason }));
  });
  const auditAnnotations: AuditAnnotation[] = [];
  const keys = new Set<string>();
  reader.list(['spec', 'auditAnnotations']).forEach((_, i) => {
    const path = ['spec', 'auditAnnotations', i];
    const key = reader.requiredString([...path, 'key']);
    const valueExpression = reader.expression([...path, 'valueExpression']);
    if (key === undefined || !valueExpression) return;
    // The annotation is written as POLICY/KEY, which must be a qualified name (validateAuditAnnotation).
    for (const problem of isQualifiedName(`${reader.resource.name}/${key}`)) reader.issue([...path, 'key'], `invalid auditAnnotations key '${key}': ${problem}`);
    if (keys.has(key)) reader.issue([...path, 'key'], `duplicate auditAnnotations key '${key}'`);
    keys.add(key);
    auditAnnotations.push(Object.freeze({ key, valueExpression }));
  });
  if (validations.length === 0 && auditAnnotations.length === 0 && reader.get(['spec', 'validations']) === undefined && reader.get(['spec', 'auditAnnotations']) === undefined) {
    reader.issue(['spec'], 'spec must have at least one of validations or auditAnnotations');
  }
  return Object.freeze({
    kind: 'ValidatingAdmissionPolicy' as const,
    ...common,
    validations: Object.freeze(validations),
    auditAnnotations: Object.freeze(auditAnnotations),
  });
}

function compileMutating(reader: ResourceReader): Omit<MutatingPolicy, 'bindings'> {
  const common = compileCommon(reader);
  const mutations: Mutation[] = [];
  reader.list(['spec', 'mutations']).forEach((_, i) => {
    const path = ['spec', 'mutations', i];
    const patchType = reader.oneOf([...path, 'patchType'], ['JSONPatch', 'ApplyConfiguration'], 'JSONPatch');
    if (reader.get([...path, 'patchType']) === undefined) {
      reader.issue([...path], `${fieldName(path)}.patchType is required (JSONPatch or ApplyConfiguration)`);
      return;
    }
    const holder = patchType === 'JSONPatch' ? 'jsonPatch' : 'applyConfiguration';
    if (reader.get([...path, holder]) === undefined) {
      reader.issue([...path], `${fieldName(path)}.${holder} is required for patchType ${patchType}`);
      return;
    }
    const expression = reader.expression([...path, holder, 'expression']);
    if (expression) mutations.push(Object.freeze({ patchType, expression }));
  });
  if (mutations.length === 0 && reader.get(['spec', 'mutations']) === undefined) reader.issue(['spec'], 'spec.mutations is required');
  return Object.freeze({
    kind: 'MutatingAdmissionPolicy' as const,
    ...common,
    mutations: Object.freeze(mutations),
    reinvocationPolicy: reader.oneOf(['spec', 'reinvocationPolicy'], ['Never', 'IfNeeded'], 'Never'),
  });
}

const VALIDATION_ACTIONS: readonly ValidationAction[] = ['Deny', 'Warn', 'Audit'];

function compileBinding(reader: ResourceReader, validating: boolean): Binding | undefined {
  const policyName = reader.requiredString(['spec', 'policyName']);
  if (policyName === undefined) return undefined;
  for (const problem of isDNS1123Subdomain(policyName)) reader.issue(['spec', 'policyName'], `invalid policyName '${policyName}': ${problem}`);
  const problems: FieldProblem[] = [];
  const matchValue = reader.get(['spec', 'matchResources']);
  const match = matchValue === undefined || matchValue === null ? MATCH_ALL : parseMatchResources(matchValue, ['spec', 'matchResources'], problems);
  reader.problems(problems);
  const actions: ValidationAction[] = [];
  if (validating) {
    const list = reader.list(['spec', 'validationActions']);
    if (list.length === 0) reader.issue(['spec'], 'spec.validationActions is required: a list of Deny, Warn, Audit');
    list.forEach((action, i) => {
      if (!VALIDATION_ACTIONS.includes(action as ValidationAction)) reader.issue(['spec', 'validationActions', i], `unknown validation action '${String(action)}': use Deny, Warn or Audit`);
      else if (actions.includes(action as ValidationAction)) reader.issue(['spec', 'validationActions', i], `duplicate validation action '${String(action)}'`);
      else actions.push(action as ValidationAction);
    });
    if (actions.includes('Deny') && actions.includes('Warn')) {
      reader.issue(['spec', 'validationActions'], 'validationActions must not contain both Deny and Warn (Deny already reports the failure)');
    }
  }
  const paramRef = paramRefOf(reader);
  return Object.freeze({
    name: reader.resource.name,
    policyName,
    file: reader.file,
    line: reader.resource.document.position.line,
    ...(paramRef ? { paramRef } : {}),
    match,
    validationActions: Object.freeze(actions),
  });
}

function paramRefOf(reader: ResourceReader): ParamRef | undefined {
  const path = ['spec', 'paramRef'];
  const value = reader.get(path);
  if (value === undefined || value === null) return undefined;
  const name = reader.optionalString([...path, 'name']);
  const namespace = reader.optionalString([...path, 'namespace']);
  const selectorValue = reader.get([...path, 'selector']);
  if (name && selectorValue !== undefined) reader.issue(path, 'paramRef.name and paramRef.selector are mutually exclusive');
  if (!name && selectorValue === undefined) reader.issue(path, 'paramRef needs one of name or selector');
  let selector;
  if (selectorValue !== undefined) {
    const parsed = parseLabelSelector(selectorValue, 'spec.paramRef.selector');
    if ('error' in parsed) reader.issue([...path, 'selector'], parsed.error);
    else selector = parsed;
  }
  const actionValue = reader.get([...path, 'parameterNotFoundAction']);
  // Required by the API (admissionregistration.k8s.io/v1 ParamRef).
  if (actionValue === undefined) reader.issue(path, 'paramRef.parameterNotFoundAction is required: Allow or Deny');
  const parameterNotFoundAction = actionValue === undefined ? undefined : reader.oneOf([...path, 'parameterNotFoundAction'], ['Allow', 'Deny'] as const, 'Deny');
  return Object.freeze({
    ...(name ? { name } : {}),
    ...(namespace ? { namespace } : {}),
    ...(selector ? { selector } : {}),
    ...(parameterNotFoundAction ? { parameterNotFoundAction } : {}),
  });
}
