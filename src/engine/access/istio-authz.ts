/**
 * Istio AuthorizationPolicy (security.istio.io/v1, v1beta1) compiled into matchers with the
 * upstream semantics: a rule matches when all of its from/to/when match; within one of
 * those, any listed source/operation; within a field, any value; `not*` fields exclude.
 * No rules match nothing; an empty rule matches everything.
 */
import type { PolicyIssue, PolicyResource } from '../../policy/index.js';
import type { RequestView } from './attributes.js';
import { issueAt, isRecord, stringList, type FieldPath } from './issue.js';
import {
  anyOf,
  hostMatcher,
  ipMatcher,
  parseIpBlock,
  pathMatcher,
  pathPatternError,
  stringMatcher,
  type Matcher,
} from './patterns.js';
import type { CompiledPolicy, EvalContext, PolicyMatch } from './policy.js';
import { compileScope } from './scope.js';
import type { AccessAction } from './types.js';

type Check = (view: RequestView) => boolean;

interface NamedCheck {
  readonly label: string;
  readonly test: Check;
}

interface IstioRule {
  readonly index: number;
  readonly checks: readonly NamedCheck[];
}

const ACTIONS: readonly AccessAction[] = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'];
const SPEC_FIELDS = ['selector', 'targetRef', 'targetRefs', 'action', 'provider', 'rules'];

export interface IstioAuthzOptions {
  readonly rootNamespace: string;
  /** Non-fatal notes (CUSTOM is recorded but not delegated). */
  readonly warnings: PolicyIssue[];
}

export function compileAuthorizationPolicy(resource: PolicyResource, issues: PolicyIssue[], options: IstioAuthzOptions): CompiledPolicy | undefined {
  const before = issues.length;
  const spec = resource.value.spec ?? {};
  if (!isRecord(spec)) {
    issueAt(resource, issues, ['spec'], 'spec must be a mapping');
    return undefined;
  }
  for (const key of Object.keys(spec)) {
    if (!SPEC_FIELDS.includes(key)) issueAt(resource, issues, ['spec', key], `unknown field ${key}; expected ${SPEC_FIELDS.join(', ')}`);
  }
  const scope = compileScope(resource, options.rootNamespace, issues);
  const actionValue = spec.action ?? 'ALLOW';
  if (typeof actionValue !== 'string' || !ACTIONS.includes(actionValue as AccessAction)) {
    issueAt(resource, issues, ['spec', 'action'], `unknown action ${JSON.stringify(actionValue)}; expected one of ${ACTIONS.join(', ')}`);
    return undefined;
  }
  const action = actionValue as AccessAction;
  if (action === 'CUSTOM') {
    if (!isRecord(spec.provider) || typeof spec.provider.name !== 'string' || spec.provider.name === '') {
      issueAt(resource, issues, ['spec', 'action'], 'CUSTOM action without `provider`');
    } else {
      issueAt(resource, options.warnings, ['spec', 'action'], `CUSTOM action (provider ${spec.provider.name}): celgate records the match but does not delegate the decision`);
    }
  } else if (spec.provider !== undefined) {
    issueAt(resource, issues, ['spec', 'provider'], '`provider` must only be set with the CUSTOM action');
  }

  const rules: IstioRule[] = [];
  if (spec.rules !== undefined && spec.rules !== null) {
    if (!Array.isArray(spec.rules)) issueAt(resource, issues, ['spec', 'rules'], 'rules must be a list');
    else spec.rules.forEach((rule, i) => {
      const compiled = compileRule(resource, issues, rule, ['spec', 'rules', i], i);
      if (compiled) rules.push(compiled);
    });
  }
  if (issues.length > before) return undefined;
  const id = `${scope.namespace}/${resource.name}`;
  return new IstioPolicy(id, scope, action, rules);
}

class IstioPolicy implements CompiledPolicy {
  readonly kind = 'AuthorizationPolicy';
  readonly actions: ReadonlySet<AccessAction>;

  constructor(
    readonly id: string,
    readonly scope: CompiledPolicy['scope'],
    readonly action: AccessAction,
    readonly rules: readonly IstioRule[],
  ) {
    this.actions = new Set([action]);
  }

  match(view: RequestView, action: AccessAction, ctx: EvalContext): PolicyMatch | undefined {
    if (action !== this.action) return undefined;
    const explain = ctx.explain;
    if (this.rules.length === 0) {
      explain?.push({ policy: this.id, check: 'rules', outcome: 'not matched', detail: 'the policy has no rules, so it matches nothing' });
      return undefined;
    }
    for (const rule of this.rules) {
      let matched = true;
      for (const check of rule.checks) {
        const ok = check.test(view);
        explain?.push({ policy: this.id, rule: String(rule.index), check: check.label, outcome: ok ? 'matched' : 'not matched' });
        if (!ok) {
          matched = false;
          break;
        }
      }
      if (matched) {
        if (rule.checks.length === 0) explain?.push({ policy: this.id, rule: String(rule.index), check: 'rule', outcome: 'matched', detail: 'an empty rule matches every request' });
        return { rule: String(rule.index) };
      }
    }
    return undefined;
  }
}

// ---- rules -------------------------------------------------------------------------

function compileRule(resource: PolicyResource, issues: PolicyIssue[], rule: unknown, path: FieldPath, index: number): IstioRule | undefined {
  if (rule === null || rule === undefined) return { index, checks: [] };
  if (!isRecord(rule)) {
    issueAt(resource, issues, path, 'a rule must be a mapping with from, to and when');
    return undefined;
  }
  for (const key of Object.keys(rule)) {
    if (key !== 'from' && key !== 'to' && key !== 'when') issueAt(resource, issues, [...path, key], `unknown field ${key}; a rule has from, to and when`);
  }
  const checks: NamedCheck[] = [];
  const from = compileClauses(resource, issues, rule.from, [...path, 'from'], 'source', compileSource);
  if (from) checks.push({ label: 'from', test: from });
  const to = compileClauses(resource, issues, rule.to, [...path, 'to'], 'operation', compileOperation);
  if (to) checks.push({ label: 'to', test: to });
  if (rule.when !== undefined && rule.when !== null) {
    if (!Array.isArray(rule.when)) issueAt(resource, issues, [...path, 'when'], 'when must be a list of conditions');
    else rule.when.forEach((condition, i) => {
      const check = compileCondition(resource, issues, condition, [...path, 'when', i]);
      if (check) checks.push({ label: `when[${i}] ${(condition as { key: string }).key}`, test: check });
    });
  }
  return { index, checks };
}

type ClauseCompiler = (resource: PolicyResource, issues: PolicyIssue[], body: Record<string, unknown>, path: FieldPath) => Check | undefined;

/** `from: [{source}]` / `to: [{operation}]`: any clause may match. */
function compileClauses(resource: PolicyResource, issues: PolicyIssue[], list: unknown, path: FieldPath, inner: string, compile: ClauseCompiler): Check | undefined {
  if (list === undefined || list === null) return undefined;
  const name = path[path.length - 1];
  if (!Array.isArray(list) || list.length === 0) {
    issueAt(resource, issues, path, `\`${String(name)}\` must not be empty`);
    return undefined;
  }
  const checks: Check[] = [];
  list.forEach((clause, i) => {
    const body = isRecord(clause) ? clause[inner] : undefined;
    if (!isRecord(body) || Object.keys(body).length === 0) {
      issueAt(resource, issues, [...path, i], `\`${String(name)}.${inner}\` must not be empty`);
      return;
    }
    const check = compile(resource, issues, body, [...path, i, inner]);
    if (check) checks.push(check);
  });
  if (checks.length === 0) return undefined;
  if (checks.length === 1) return checks[0];
  return (view) => checks.some((c) => c(view));
}

/** Positive and negative lists of one field: value must match one of `values` and none of `notValues`. */
function field(get: (view: RequestView) => string, values: Matcher | undefined, notValues: Matcher | undefined): Check {
  if (values && notValues) return (v) => { const x = get(v); return values(x) && !notValues(x); };
  if (values) return (v) => values(get(v));
  return (v) => !notValues!(get(v));
}

function multiField(get: (view: RequestView) => readonly string[], values: Matcher | undefined, notValues: Matcher | undefined): Check {
  return (v) => {
    const xs = get(v);
    if (values && !xs.some(values)) return false;
    if (notValues && xs.some(notValues)) return false;
    return true;
  };
}

function all(checks: readonly Check[]): Check {
  if (checks.length === 1) return checks[0]!;
  return (view) => {
    for (let i = 0; i < checks.length; i++) if (!checks[i]!(view)) return false;
    return true;
  };
}

interface FieldSpec {
  readonly name: string;
  readonly get: (view: RequestView) => string;
  readonly matcher: (pattern: string, resource: PolicyResource, issues: PolicyIssue[], path: FieldPath) => Matcher | undefined;
}

function compileFields(resource: PolicyResource, issues: PolicyIssue[], body: Record<string, unknown>, path: FieldPath, fields: readonly FieldSpec[], known: ReadonlySet<string>): Check[] {
  for (const key of Object.keys(body)) {
    if (!known.has(key)) issueAt(resource, issues, [...path, key], `unknown field ${key}`);
  }
  const checks: Check[] = [];
  for (const f of fields) {
    const notName = `not${f.name[0]!.toUpperCase()}${f.name.slice(1)}`;
    const values = matchersOf(resource, issues, body[f.name], [...path, f.name], f);
    const notValues = matchersOf(resource, issues, body[notName], [...path, notName], f);
    if (values || notValues) checks.push(field(f.get, values, notValues));
  }
  return checks;
}

function matchersOf(resource: PolicyResource, issues: PolicyIssue[], value: unknown, path: FieldPath, f: FieldSpec): Matcher | undefined {
  if (value === undefined || value === null) return undefined;
  const patterns = stringList(resource, issues, value, path);
  const matchers: Matcher[] = [];
  patterns.forEach((p, i) => {
    const m = f.matcher(p, resource, issues, [...path, i]);
    if (m) matchers.push(m);
  });
  // An empty list is "not set" upstream (proto3 repeated fields have no presence).
  return matchers.length === 0 ? undefined : anyOf(matchers);
}

const plain = (pattern: string): Matcher => stringMatcher(pattern);

function ipField(pattern: string, resource: PolicyResource, issues: PolicyIssue[], path: FieldPath): Matcher | undefined {
  const block = parseIpBlock(pattern);
  if (typeof block === 'string') {
    issueAt(resource, issues, path, block);
    return undefined;
  }
  return ipMatcher([block]);
}

function portField(pattern: string, resource: PolicyResource, issues: PolicyIssue[], path: FieldPath): Matcher | undefined {
  if (!/^\d{1,5}$/.test(pattern) || Number(pattern) > 65535) {
    issueAt(resource, issues, path, `invalid port ${JSON.stringify(pattern)}: must be a number from 0 to 65535`);
    return undefined;
  }
  return (v) => v === pattern;
}

function pathField(pattern: string, resource: PolicyResource, issues: PolicyIssue[], path: FieldPath): Matcher | undefined {
  const error = pathPatternError(pattern);
  if (error) {
    issueAt(resource, issues, path, error);
    return undefined;
  }
  return pathMatcher(pattern);
}

/** `ns/sa` → the principal `<any trust domain>/ns/ns/sa/sa`. */
function serviceAccountField(pattern: string, resource: PolicyResource, issues: PolicyIssue[], path: FieldPath): Matcher | undefined {
  const parts = pattern.split('/');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '' || pattern.includes('*')) {
    issueAt(resource, issues, path, `invalid service account ${JSON.stringify(pattern)}: expected namespace/name without wildcards`);
    return undefined;
  }
  const suffix = `/ns/${parts[0]}/sa/${parts[1]}`;
  return (v) => v.endsWith(suffix) && v.indexOf('/ns/') === v.length - suffix.length;
}

const SOURCE_FIELDS: readonly FieldSpec[] = [
  { name: 'principals', get: (v) => v.sourcePrincipal, matcher: plain },
  { name: 'serviceAccounts', get: (v) => v.sourcePrincipal, matcher: serviceAccountField },
  { name: 'requestPrincipals', get: (v) => v.requestPrincipal, matcher: plain },
  { name: 'namespaces', get: (v) => v.sourceNamespace, matcher: plain },
  { name: 'ipBlocks', get: (v) => v.sourceIp, matcher: ipField },
  { name: 'remoteIpBlocks', get: (v) => v.remoteIp, matcher: ipField },
];
const SOURCE_KEYS = new Set(SOURCE_FIELDS.flatMap((f) => [f.name, `not${f.name[0]!.toUpperCase()}${f.name.slice(1)}`]));

function compileSource(resource: PolicyResource, issues: PolicyIssue[], body: Record<string, unknown>, path: FieldPath): Check | undefined {
  const hasPrincipals = body.principals !== undefined || body.notPrincipals !== undefined;
  const hasAccounts = body.serviceAccounts !== undefined || body.notServiceAccounts !== undefined;
  if (hasPrincipals && hasAccounts) {
    issueAt(resource, issues, [...path, body.serviceAccounts !== undefined ? 'serviceAccounts' : 'notServiceAccounts'], 'cannot set serviceAccounts with principals or notPrincipals');
  }
  const checks = compileFields(resource, issues, body, path, SOURCE_FIELDS, SOURCE_KEYS);
  return checks.length === 0 ? undefined : all(checks);
}

const OPERATION_FIELDS: readonly FieldSpec[] = [
  { name: 'hosts', get: (v) => v.host, matcher: hostMatcher },
  { name: 'ports', get: (v) => v.destinationPort, matcher: portField },
  { name: 'methods', get: (v) => v.method, matcher: plain },
  { name: 'paths', get: (v) => v.urlPath, matcher: pathField },
];
const OPERATION_KEYS = new Set(OPERATION_FIELDS.flatMap((f) => [f.name, `not${f.name[0]!.toUpperCase()}${f.name.slice(1)}`]));

function compileOperation(resource: PolicyResource, issues: PolicyIssue[], body: Record<string, unknown>, path: FieldPath): Check | undefined {
  const checks = compileFields(resource, issues, body, path, OPERATION_FIELDS, OPERATION_KEYS);
  return checks.length === 0 ? undefined : all(checks);
}

// ---- when conditions ---------------------------------------------------------------

interface ConditionKey {
  /** One value, or (audiences, list claims) several of which any may match. */
  readonly get: ((view: RequestView) => string) | undefined;
  readonly getAll?: (view: RequestView) => readonly string[];
  readonly matcher: FieldSpec['matcher'];
}

/** `request.auth.claims[a][b]` → ['a', 'b']; undefined when the key is malformed. */
function bracketed(key: string, prefix: string): string[] | undefined {
  const rest = key.slice(prefix.length);
  const names: string[] = [];
  const re = /\[([^\][]+)\]/y;
  let at = 0;
  while (at < rest.length) {
    re.lastIndex = at;
    const m = re.exec(rest);
    if (!m) return undefined;
    names.push(m[1]!);
    at = re.lastIndex;
  }
  return names.length > 0 ? names : undefined;
}

function claimValues(view: RequestView, names: readonly string[]): readonly string[] {
  let value: unknown = view.auth?.claims;
  for (const name of names) {
    if (!isRecord(value)) return [];
    value = value[name];
  }
  if (Array.isArray(value)) return value.filter((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint').map(String);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return [String(value)];
  return [];
}

const FIXED_KEYS: Readonly<Record<string, ConditionKey>> = {
  'source.ip': { get: (v) => v.sourceIp, matcher: ipField },
  'remote.ip': { get: (v) => v.remoteIp, matcher: ipField },
  'source.namespace': { get: (v) => v.sourceNamespace, matcher: plain },
  'source.principal': { get: (v) => v.sourcePrincipal, matcher: plain },
  'request.auth.principal': { get: (v) => v.requestPrincipal, matcher: plain },
  'request.auth.audiences': { get: undefined, getAll: (v) => v.auth?.audiences ?? [], matcher: plain },
  'request.auth.presenter': { get: (v) => v.auth?.presenter ?? '', matcher: plain },
  'destination.ip': { get: (v) => v.destinationIp, matcher: ipField },
  'destination.port': { get: (v) => v.destinationPort, matcher: portField },
  'connection.sni': { get: (v) => v.sni, matcher: plain },
};

function conditionKey(key: string): ConditionKey | string {
  const fixed = FIXED_KEYS[key];
  if (fixed) return fixed;
  if (key.startsWith('request.headers')) {
    const names = bracketed(key, 'request.headers');
    if (!names || names.length !== 1) return `invalid key ${key}: expected request.headers[Header-Name]`;
    const header = names[0]!.toLowerCase();
    return { get: (v) => v.header(header) ?? '', matcher: plain };
  }
  if (key.startsWith('request.auth.claims')) {
    const names = bracketed(key, 'request.auth.claims');
    if (!names) return `invalid key ${key}: expected request.auth.claims[name] or request.auth.claims[name][nested]`;
    return { get: undefined, getAll: (v) => claimValues(v, names), matcher: plain };
  }
  if (key.startsWith('experimental.')) return `experimental key ${key} is not supported`;
  return `unknown attribute (${key})`;
}

function compileCondition(resource: PolicyResource, issues: PolicyIssue[], condition: unknown, path: FieldPath): Check | undefined {
  if (!isRecord(condition) || typeof condition.key !== 'string' || condition.key === '') {
    issueAt(resource, issues, path, '`key` must not be empty');
    return undefined;
  }
  for (const k of Object.keys(condition)) {
    if (k !== 'key' && k !== 'values' && k !== 'notValues') issueAt(resource, issues, [...path, k], `unknown field ${k}`);
  }
  const key = conditionKey(condition.key);
  if (typeof key === 'string') {
    issueAt(resource, issues, [...path, 'key'], key);
    return undefined;
  }
  const spec: FieldSpec = { name: condition.key, get: () => '', matcher: key.matcher };
  const values = matchersOf(resource, issues, condition.values, [...path, 'values'], spec);
  const notValues = matchersOf(resource, issues, condition.notValues, [...path, 'notValues'], spec);
  if (!values && !notValues) {
    issueAt(resource, issues, path, `at least one of values or notValues must be set for key ${condition.key}`);
    return undefined;
  }
  return key.get ? field(key.get, values, notValues) : multiField(key.getAll!, values, notValues);
}

