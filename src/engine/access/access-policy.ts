/**
 * celgate AccessPolicy (celgate.dev/v1alpha1): RBAC roles with permissions, roles derived
 * by CEL conditions, bindings of subjects to roles, and free CEL rules with an effect.
 * It combines with Istio policies by the same rule (see combine.ts and
 * docs/access-policy.md): bindings and ALLOW rules give it allow semantics.
 */
import type { PolicyIssue, PolicyResource } from '../../policy/index.js';
import type { RequestView } from './attributes.js';
import { stripSpiffe } from './attributes.js';
import { compileCondition, holds, type Condition } from './conditions.js';
import { issueAt, isRecord, stringList, type FieldPath } from './issue.js';
import { anyOf, hostMatcher, pathMatcher, pathPatternError, stringMatcher, type Matcher } from './patterns.js';
import type { AllowResponse, CompiledPolicy, DenyResponse, EvalContext, PolicyMatch } from './policy.js';
import { compileScope, type Scope } from './scope.js';
import type { AccessAction } from './types.js';

export interface AccessPolicyOptions {
  readonly rootNamespace: string;
  /** JWT claim listing the caller's groups, for `group` subjects. */
  readonly groupsClaim: string;
}

type Test = (view: RequestView) => boolean;

interface Permission {
  readonly label: string;
  readonly test: Test;
  readonly condition: Condition | undefined;
}

interface Binding {
  readonly label: string;
  readonly subjects: Test;
  readonly roles: readonly string[];
  readonly condition: Condition | undefined;
  readonly response: AllowResponse | undefined;
}

interface DerivedRole {
  readonly name: string;
  readonly parentRoles: readonly string[];
  readonly condition: Condition | undefined;
}

interface Rule {
  readonly name: string;
  readonly effect: 'ALLOW' | 'DENY' | 'AUDIT';
  readonly condition: Condition | undefined;
  readonly response: AllowResponse | undefined;
  readonly denyResponse: DenyResponse | undefined;
}

const EFFECTS = ['ALLOW', 'DENY', 'AUDIT'] as const;
const NO_RULES: readonly Rule[] = [];
const SPEC_FIELDS = new Set(['selector', 'targetRefs', 'targetRef', 'roles', 'derivedRoles', 'bindings', 'rules', 'denyResponse']);

export function compileAccessPolicy(resource: PolicyResource, issues: PolicyIssue[], options: AccessPolicyOptions): CompiledPolicy | undefined {
  const before = issues.length;
  const spec = resource.value.spec ?? {};
  if (!isRecord(spec)) {
    issueAt(resource, issues, ['spec'], 'spec must be a mapping');
    return undefined;
  }
  for (const key of Object.keys(spec)) if (!SPEC_FIELDS.has(key)) issueAt(resource, issues, ['spec', key], `unknown field spec.${key}; known fields: ${[...SPEC_FIELDS].join(', ')}`);
  const scope = compileScope(resource, options.rootNamespace, issues);
  const id = `${scope.namespace}/${resource.name}`;
  const c = { resource, issues, id };

  const roles = new Map<string, Permission[]>();
  listAt(c, spec.roles, ['spec', 'roles'], (role, path) => {
    knownFields(c, role, path, ['name', 'permissions']);
    const name = nameOf(c, role, path, roles);
    if (name === undefined) return;
    const permissions: Permission[] = [];
    listAt(c, role.permissions, [...path, 'permissions'], (perm, ppath, j) => {
      const p = compilePermission(c, perm, ppath, `role ${name} permission ${j}`);
      if (p) permissions.push(p);
    });
    roles.set(name, permissions);
  });

  const derivedRoles: DerivedRole[] = [];
  const derivedNames = new Map<string, unknown>();
  listAt(c, spec.derivedRoles, ['spec', 'derivedRoles'], (d, path) => {
    knownFields(c, d, path, ['name', 'parentRoles', 'condition']);
    const name = nameOf(c, d, path, derivedNames);
    if (name === undefined) return;
    derivedNames.set(name, d);
    if (!roles.has(name)) issueAt(resource, issues, [...path, 'name'], `derived role ${name} must name a role in spec.roles (it grants that role's permissions)`);
    const parentRoles = stringList(resource, issues, d.parentRoles, [...path, 'parentRoles']);
    parentRoles.forEach((r, i) => {
      if (!roles.has(r)) issueAt(resource, issues, [...path, 'parentRoles', i], `unknown role ${r}`);
    });
    const condition = d.condition === undefined ? undefined : compileCondition(resource, issues, id, d.condition, [...path, 'condition']);
    if (d.condition === undefined && parentRoles.length === 0) issueAt(resource, issues, path, `derived role ${name} needs a condition or parentRoles`);
    derivedRoles.push({ name, parentRoles, condition });
  });

  const bindings: Binding[] = [];
  listAt(c, spec.bindings, ['spec', 'bindings'], (b, path, i) => {
    knownFields(c, b, path, ['name', 'subjects', 'roles', 'condition', 'response']);
    const subjects = compileSubjects(c, b.subjects, [...path, 'subjects'], options.groupsClaim);
    const bindingRoles = stringList(resource, issues, b.roles, [...path, 'roles']);
    if (bindingRoles.length === 0) issueAt(resource, issues, path, 'a binding needs at least one role');
    bindingRoles.forEach((r, j) => {
      if (!roles.has(r)) issueAt(resource, issues, [...path, 'roles', j], `unknown role ${r}; define it in spec.roles`);
    });
    const condition = b.condition === undefined ? undefined : compileCondition(resource, issues, id, b.condition, [...path, 'condition']);
    const response = b.response === undefined ? undefined : compileAllowResponse(c, b.response, [...path, 'response']);
    const label = typeof b.name === 'string' && b.name ? b.name : `bindings[${i}]`;
    if (subjects) bindings.push({ label, subjects, roles: bindingRoles, condition, response });
  });

  const rules: Rule[] = [];
  const ruleNames = new Map<string, unknown>();
  listAt(c, spec.rules, ['spec', 'rules'], (r, path) => {
    knownFields(c, r, path, ['name', 'effect', 'condition', 'response', 'denyResponse']);
    const name = nameOf(c, r, path, ruleNames);
    if (name === undefined) return;
    ruleNames.set(name, r);
    const effect = r.effect ?? 'ALLOW';
    if (typeof effect !== 'string' || !(EFFECTS as readonly string[]).includes(effect)) {
      issueAt(resource, issues, [...path, 'effect'], `unknown effect ${JSON.stringify(effect)}; expected ALLOW, DENY or AUDIT`);
      return;
    }
    if (r.condition === undefined) issueAt(resource, issues, path, `rule ${name} needs a condition`);
    const condition = r.condition === undefined ? undefined : compileCondition(resource, issues, id, r.condition, [...path, 'condition']);
    if (r.response !== undefined && effect !== 'ALLOW') issueAt(resource, issues, [...path, 'response'], 'response is only for ALLOW rules');
    if (r.denyResponse !== undefined && effect !== 'DENY') issueAt(resource, issues, [...path, 'denyResponse'], 'denyResponse is only for DENY rules');
    rules.push({
      name,
      effect: effect as Rule['effect'],
      condition,
      response: r.response === undefined ? undefined : compileAllowResponse(c, r.response, [...path, 'response']),
      denyResponse: r.denyResponse === undefined ? undefined : compileDenyResponse(c, r.denyResponse, [...path, 'denyResponse']),
    });
  });
  const defaultDeny = spec.denyResponse === undefined ? undefined : compileDenyResponse(c, spec.denyResponse, ['spec', 'denyResponse']);
  if (issues.length > before) return undefined;
  return new AccessPolicyMatcher(id, scope, roles, derivedRoles, bindings, rules, defaultDeny);
}

class AccessPolicyMatcher implements CompiledPolicy {
  readonly kind = 'AccessPolicy';
  readonly actions: ReadonlySet<AccessAction>;
  readonly #rulesByEffect: ReadonlyMap<AccessAction, readonly Rule[]>;

  constructor(
    readonly id: string,
    readonly scope: Scope,
    private readonly roles: ReadonlyMap<string, readonly Permission[]>,
    private readonly derivedRoles: readonly DerivedRole[],
    private readonly bindings: readonly Binding[],
    private readonly rules: readonly Rule[],
    readonly defaultDenyResponse: DenyResponse | undefined,
  ) {
    const actions = new Set<AccessAction>(rules.map((r) => r.effect));
    if (bindings.length > 0 || derivedRoles.length > 0) actions.add('ALLOW');
    this.actions = actions;
    this.#rulesByEffect = new Map(EFFECTS.map((e) => [e, rules.filter((r) => r.effect === e && r.condition)]));
  }

  match(view: RequestView, action: AccessAction, ctx: EvalContext): PolicyMatch | undefined {
    if (action === 'ALLOW') {
      const m = this.#matchRoles(view, ctx);
      if (m) return m;
    }
    for (const rule of this.#rulesByEffect.get(action) ?? NO_RULES) {
      const ok = holds(rule.condition!, view, ctx);
      ctx.explain?.push({ policy: this.id, rule: rule.name, check: 'condition', outcome: ok ? 'matched' : 'not matched' });
      if (ok) return { rule: rule.name, ...(rule.response ? { allowResponse: rule.response } : {}), ...(rule.denyResponse ? { denyResponse: rule.denyResponse } : {}) };
    }
    return undefined;
  }

  /** Bindings grant roles; derived roles add more; any permission of a held role allows. */
  #matchRoles(view: RequestView, ctx: EvalContext): PolicyMatch | undefined {
    // Roles granted by bindings, only tracked when a derived role asks for parents.
    const held = this.derivedRoles.length > 0 ? new Set<string>() : undefined;
    for (const b of this.bindings) {
      const subject = b.subjects(view);
      ctx.explain?.push({ policy: this.id, rule: b.label, check: 'subjects', outcome: subject ? 'matched' : 'not matched' });
      if (!subject) continue;
      if (b.condition) {
        const ok = holds(b.condition, view, ctx);
        ctx.explain?.push({ policy: this.id, rule: b.label, check: 'condition', outcome: ok ? 'matched' : 'not matched' });
        if (!ok) continue;
      }
      for (const role of b.roles) {
        held?.add(role);
        const p = this.#permits(role, view, ctx);
        if (p) return { rule: `${b.label} role ${role} ${p}`, ...(b.response ? { allowResponse: b.response } : {}) };
      }
    }
    for (const d of this.derivedRoles) {
      if (d.parentRoles.length > 0 && !d.parentRoles.some((r) => held!.has(r))) {
        ctx.explain?.push({ policy: this.id, rule: `derived role ${d.name}`, check: 'parentRoles', outcome: 'not matched' });
        continue;
      }
      if (d.condition) {
        const ok = holds(d.condition, view, ctx);
        ctx.explain?.push({ policy: this.id, rule: `derived role ${d.name}`, check: 'condition', outcome: ok ? 'matched' : 'not matched' });
        if (!ok) continue;
      }
      const p = this.#permits(d.name, view, ctx);
      if (p) return { rule: `derived role ${d.name} ${p}` };
    }
    return undefined;
  }

  #permits(role: string, view: RequestView, ctx: EvalContext): string | undefined {
    for (const perm of this.roles.get(role) ?? []) {
      let ok = perm.test(view);
      if (ok && perm.condition) ok = holds(perm.condition, view, ctx);
      ctx.explain?.push({ policy: this.id, rule: `role ${role}`, check: perm.label, outcome: ok ? 'matched' : 'not matched' });
      if (ok) return perm.label.replace(`role ${role} `, '');
    }
    return undefined;
  }
}

// ---- pieces --------------------------------------------------------------------------

interface Ctx {
  readonly resource: PolicyResource;
  readonly issues: PolicyIssue[];
  readonly id: string;
}

function listAt(c: Ctx, value: unknown, path: FieldPath, each: (item: Record<string, unknown>, path: FieldPath, index: number) => void): void {
  if (value === undefined || value === null) return;
  if (!Array.isArray(value)) {
    issueAt(c.resource, c.issues, path, `${String(path[path.length - 1])} must be a list`);
    return;
  }
  value.forEach((item, i) => {
    if (!isRecord(item)) issueAt(c.resource, c.issues, [...path, i], 'expected a mapping');
    else each(item, [...path, i], i);
  });
}

function knownFields(c: Ctx, item: Record<string, unknown>, path: FieldPath, known: readonly string[]): void {
  for (const key of Object.keys(item)) {
    if (!known.includes(key)) issueAt(c.resource, c.issues, [...path, key], `unknown field ${key}; expected ${known.join(', ')}`);
  }
}

function nameOf(c: Ctx, item: Record<string, unknown>, path: FieldPath, seen: ReadonlyMap<string, unknown>): string | undefined {
  if (typeof item.name !== 'string' || item.name === '') {
    issueAt(c.resource, c.issues, path, 'name is required');
    return undefined;
  }
  if (seen.has(item.name)) {
    issueAt(c.resource, c.issues, [...path, 'name'], `duplicate name ${item.name}`);
    return undefined;
  }
  return item.name;
}

function compilePermission(c: Ctx, perm: Record<string, unknown>, path: FieldPath, label: string): Permission | undefined {
  const tests: Test[] = [];
  const list = (key: string, matcher: (p: string, at: FieldPath) => Matcher | undefined, get: (v: RequestView) => string): void => {
    const patterns = stringList(c.resource, c.issues, perm[key], [...path, key]);
    const matchers = patterns.map((p, i) => matcher(p, [...path, key, i])).filter((m): m is Matcher => m !== undefined);
    if (matchers.length > 0) {
      const m = anyOf(matchers);
      tests.push((v) => m(get(v)));
    }
  };
  for (const key of Object.keys(perm)) {
    if (!['methods', 'paths', 'hosts', 'ports', 'condition'].includes(key)) issueAt(c.resource, c.issues, [...path, key], `unknown field ${key}; a permission has methods, paths, hosts, ports and condition`);
  }
  list('methods', (p) => stringMatcher(p), (v) => v.method);
  list('paths', (p, at) => {
    const error = pathPatternError(p);
    if (error) issueAt(c.resource, c.issues, at, error);
    return error ? undefined : pathMatcher(p);
  }, (v) => v.urlPath);
  list('hosts', (p) => hostMatcher(p), (v) => v.host);
  list('ports', (p, at) => {
    if (!/^\d{1,5}$/.test(p) || Number(p) > 65535) {
      issueAt(c.resource, c.issues, at, `invalid port ${JSON.stringify(p)}`);
      return undefined;
    }
    return (v) => v === p;
  }, (v) => v.destinationPort);
  const condition = perm.condition === undefined ? undefined : compileCondition(c.resource, c.issues, c.id, perm.condition, [...path, 'condition']);
  const test: Test = tests.length === 0 ? () => true : (v) => tests.every((t) => t(v));
  return { label, test, condition };
}

const SUBJECT_KINDS = ['principal', 'serviceAccount', 'namespace', 'requestPrincipal', 'group'] as const;

function compileSubjects(c: Ctx, value: unknown, path: FieldPath, groupsClaim: string): Test | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    issueAt(c.resource, c.issues, path, 'a binding needs subjects (use "*" for anyone)');
    return undefined;
  }
  const tests: Test[] = [];
  value.forEach((s, i) => {
    const at = [...path, i];
    if (s === '*') {
      tests.push(() => true);
      return;
    }
    const keys = isRecord(s) ? Object.keys(s) : [];
    if (!isRecord(s) || keys.length !== 1 || !(SUBJECT_KINDS as readonly string[]).includes(keys[0]!) || typeof s[keys[0]!] !== 'string') {
      issueAt(c.resource, c.issues, at, `a subject is "*" or one of ${SUBJECT_KINDS.map((k) => `{${k}: ...}`).join(', ')}`);
      return;
    }
    const kind = keys[0] as (typeof SUBJECT_KINDS)[number];
    const pattern = s[kind] as string;
    switch (kind) {
      case 'principal': {
        const m = stringMatcher(stripSpiffe(pattern));
        tests.push((v) => m(v.sourcePrincipal));
        break;
      }
      case 'serviceAccount': {
        const parts = pattern.split('/');
        if (parts.length !== 2 || !parts[0] || !parts[1]) {
          issueAt(c.resource, c.issues, [...at, kind], `serviceAccount must be namespace/name, not ${JSON.stringify(pattern)}`);
          return;
        }
        const suffix = `/ns/${parts[0]}/sa/${parts[1]}`;
        tests.push((v) => v.sourcePrincipal.endsWith(suffix) && v.sourcePrincipal.indexOf('/ns/') === v.sourcePrincipal.length - suffix.length);
        break;
      }
      case 'namespace': {
        const m = stringMatcher(pattern);
        tests.push((v) => m(v.sourceNamespace));
        break;
      }
      case 'requestPrincipal': {
        const m = stringMatcher(pattern);
        tests.push((v) => m(v.requestPrincipal));
        break;
      }
      case 'group':
        tests.push((v) => groupsOf(v, groupsClaim).includes(pattern));
        break;
    }
  });
  if (tests.length === 0) return undefined;
  return (v) => tests.some((t) => t(v));
}

function groupsOf(view: RequestView, claim: string): readonly string[] {
  const value = view.auth?.claims[claim];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string');
  if (typeof value === 'string') return value.split(/[ ,]+/).filter((g) => g !== '');
  return [];
}

function stringMap(c: Ctx, value: unknown, path: FieldPath, lowerKeys: boolean): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) {
    issueAt(c.resource, c.issues, path, 'expected a map of header names to values');
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'bigint' && typeof v !== 'number' && typeof v !== 'boolean') issueAt(c.resource, c.issues, [...path, k], 'header values must be strings');
    else out[lowerKeys ? k.toLowerCase() : k] = String(v);
  }
  return out;
}

function compileAllowResponse(c: Ctx, value: unknown, path: FieldPath): AllowResponse | undefined {
  if (!isRecord(value)) {
    issueAt(c.resource, c.issues, path, 'response must be a mapping with addHeaders, removeHeaders and route');
    return undefined;
  }
  for (const key of Object.keys(value)) if (!['addHeaders', 'removeHeaders', 'route'].includes(key)) issueAt(c.resource, c.issues, [...path, key], `unknown field ${key}`);
  const route = value.route === undefined ? null : stringMap(c, value.route, [...path, 'route'], false);
  return {
    addHeaders: stringMap(c, value.addHeaders, [...path, 'addHeaders'], true),
    removeHeaders: stringList(c.resource, c.issues, value.removeHeaders, [...path, 'removeHeaders']).map((h) => h.toLowerCase()),
    route,
  };
}

function compileDenyResponse(c: Ctx, value: unknown, path: FieldPath): DenyResponse | undefined {
  if (!isRecord(value)) {
    issueAt(c.resource, c.issues, path, 'denyResponse must be a mapping with status, body and headers');
    return undefined;
  }
  for (const key of Object.keys(value)) if (!['status', 'body', 'headers'].includes(key)) issueAt(c.resource, c.issues, [...path, key], `unknown field ${key}`);
  let status = 403;
  if (value.status !== undefined) {
    const n = Number(value.status);
    if (!Number.isInteger(n) || n < 400 || n > 599) issueAt(c.resource, c.issues, [...path, 'status'], `status must be an HTTP error code (400-599), not ${String(value.status)}`);
    else status = n;
  }
  if (value.body !== undefined && typeof value.body !== 'string') issueAt(c.resource, c.issues, [...path, 'body'], 'body must be a string');
  return { status, headers: stringMap(c, value.headers, [...path, 'headers'], true), ...(typeof value.body === 'string' ? { body: value.body } : {}) };
}
