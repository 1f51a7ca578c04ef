/**
 * Which requests a policy or binding applies to: matchResources (resourceRules,
 * excludeResourceRules, namespaceSelector, objectSelector, matchPolicy) with the
 * semantics of kube-apiserver's admission policy matcher (policy/matching and
 * webhook/predicates/rules).
 */
import { EVERYTHING, labelsOf, parseLabelSelector, type LabelSelector } from './selectors.js';
import type { AdmissionRequest, ClusterState, GroupVersionKind, GroupVersionResource } from './types.js';

export type MatchPolicy = 'Exact' | 'Equivalent';
type Scope = '*' | 'Cluster' | 'Namespaced';

export interface ResourceRule {
  readonly apiGroups: readonly string[];
  readonly apiVersions: readonly string[];
  /** `resource` or `resource/subresource`, split; `*` is a wildcard in either part. */
  readonly resources: readonly (readonly [string, string])[];
  readonly operations: readonly string[];
  readonly scope: Scope;
  readonly resourceNames: readonly string[];
}

export interface MatchResources {
  readonly namespaceSelector: LabelSelector;
  readonly objectSelector: LabelSelector;
  readonly resourceRules: readonly ResourceRule[];
  readonly excludeResourceRules: readonly ResourceRule[];
  readonly matchPolicy: MatchPolicy;
}

/** Matches everything: a binding without matchResources. */
export const MATCH_ALL: MatchResources = Object.freeze({
  namespaceSelector: EVERYTHING,
  objectSelector: EVERYTHING,
  resourceRules: [],
  excludeResourceRules: [],
  matchPolicy: 'Equivalent',
});

const OPERATIONS: ReadonlySet<string> = new Set(['*', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT']);
const SCOPES: ReadonlySet<string> = new Set(['*', 'Cluster', 'Namespaced']);

/** A problem found while reading matchResources: the field path and what is wrong. */
export interface FieldProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** Reads a matchResources / matchConstraints block; problems go to `problems`. */
export function parseMatchResources(value: unknown, path: readonly (string | number)[], problems: FieldProblem[]): MatchResources {
  if (value === undefined || value === null) return MATCH_ALL;
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ path, message: `${dotted(path)} must be a mapping` });
    return MATCH_ALL;
  }
  const spec = value as Record<string, unknown>;
  const selector = (name: string): LabelSelector => {
    const parsed = parseLabelSelector(spec[name], `${dotted(path)}.${name}`);
    if ('error' in parsed) {
      problems.push({ path: [...path, name], message: parsed.error });
      return EVERYTHING;
    }
    return parsed;
  };
  let matchPolicy: MatchPolicy = 'Equivalent';
  if (spec.matchPolicy !== undefined && spec.matchPolicy !== null) {
    if (spec.matchPolicy === 'Exact' || spec.matchPolicy === 'Equivalent') matchPolicy = spec.matchPolicy;
    else problems.push({ path: [...path, 'matchPolicy'], message: `${dotted(path)}.matchPolicy must be Exact or Equivalent` });
  }
  return Object.freeze({
    namespaceSelector: selector('namespaceSelector'),
    objectSelector: selector('objectSelector'),
    resourceRules: parseRules(spec.resourceRules, [...path, 'resourceRules'], problems),
    excludeResourceRules: parseRules(spec.excludeResourceRules, [...path, 'excludeResourceRules'], problems),
    matchPolicy,
  });
}

function parseRules(value: unknown, path: readonly (string | number)[], problems: FieldProblem[]): ResourceRule[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    problems.push({ path, message: `${dotted(path)} must be a list` });
    return [];
  }
  return value.map((raw, i) => parseRule(raw, [...path, i], problems));
}

function parseRule(raw: unknown, path: readonly (string | number)[], problems: FieldProblem[]): ResourceRule {
  const rule = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const strings = (name: string): string[] => {
    const v = rule[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
      problems.push({ path: [...path, name], message: `${dotted(path)}.${name} must be a list of strings` });
      return [];
    }
    return v as string[];
  };
  const operations = strings('operations');
  for (const [i, op] of operations.entries()) {
    if (!OPERATIONS.has(op)) problems.push({ path: [...path, 'operations', i], message: `unknown operation '${op}': use CREATE, UPDATE, DELETE, CONNECT or *` });
  }
  let scope: Scope = '*';
  if (rule.scope !== undefined && rule.scope !== null) {
    if (typeof rule.scope === 'string' && SCOPES.has(rule.scope)) scope = rule.scope as Scope;
    else problems.push({ path: [...path, 'scope'], message: `${dotted(path)}.scope must be *, Cluster or Namespaced` });
  }
  return Object.freeze({
    apiGroups: strings('apiGroups'),
    apiVersions: strings('apiVersions'),
    resources: strings('resources').map(splitResource),
    operations,
    scope,
    resourceNames: strings('resourceNames'),
  });
}

function splitResource(text: string): readonly [string, string] {
  const slash = text.indexOf('/');
  return slash < 0 ? [text, ''] : [text.slice(0, slash), text.slice(slash + 1)];
}

function dotted(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

// ---------------------------------------------------------------------------------------

/** The outcome of matching: for a match, the resource and kind that matched (Equivalent may differ). */
export type MatchOutcome =
  | { readonly matches: false; readonly error?: undefined }
  | { readonly matches: false; readonly error: string }
  | { readonly matches: true; readonly resource: GroupVersionResource; readonly kind: GroupVersionKind; readonly error?: undefined };

const NO_MATCH: MatchOutcome = Object.freeze({ matches: false });

/**
 * Whether `request` is covered by `match` (kube-apiserver's Matcher.Matches). `shape`, the
 * request's requestShape when the caller matches many policies, lets the rules' verdict be
 * remembered per shape (the selectors still run every time).
 */
export function matchRequest(match: MatchResources, request: AdmissionRequest, cluster: ClusterState, shape?: string): MatchOutcome {
  const ns = matchNamespaceSelector(match.namespaceSelector, request, cluster);
  if (ns === false) return NO_MATCH;
  if (!matchObjectSelector(match.objectSelector, request)) return NO_MATCH;
  const verdict = shape === undefined ? rulesVerdict(match, request) : rememberedVerdict(match, request, shape);
  if (verdict === false) return NO_MATCH;
  // Selector errors count only for requests the rules otherwise cover, as in kube-apiserver.
  if (typeof ns === 'string') return { matches: false, error: ns };
  return verdict === true ? { matches: true, resource: request.resource, kind: request.kind } : { matches: true, resource: verdict.resource, kind: verdict.kind };
}

/**
 * Everything the rules read of a request but its name: resource, subresource, operation,
 * whether it is namespaced, and the kind (an equivalent match reports it).
 */
export function requestShape(request: AdmissionRequest): string {
  const { resource, kind } = request;
  return `${resource.group}/${resource.version}/${resource.resource}/${request.subResource ?? ''}/${request.operation}/${request.namespace ? 'ns' : ''}/${kind.group}/${kind.version}/${kind.kind}`;
}

/** What the rules decide: no match, the request's own resource, or an equivalent one (matchPolicy Equivalent). */
type RulesVerdict = boolean | { readonly resource: GroupVersionResource; readonly kind: GroupVersionKind };

function rulesVerdict(match: MatchResources, request: AdmissionRequest): RulesVerdict {
  if (matchRules(match.excludeResourceRules, match.matchPolicy, request)) return false;
  if (match.resourceRules.length === 0) return true;
  const outcome = matchRules(match.resourceRules, match.matchPolicy, request);
  if (!outcome?.matches) return false;
  return outcome.resource === request.resource ? true : { resource: outcome.resource, kind: outcome.kind };
}

/** Shapes remembered per MatchResources; beyond this (odd resource names), verdicts are computed each time. */
const MAX_SHAPES = 1000;

const verdicts = new WeakMap<MatchResources, { readonly byName: boolean; readonly byShape: Map<string, RulesVerdict> }>();

function rememberedVerdict(match: MatchResources, request: AdmissionRequest, shape: string): RulesVerdict {
  let memory = verdicts.get(match);
  if (!memory) {
    // Rules that name resources also depend on the request's name: never remembered.
    const byName = [...match.resourceRules, ...match.excludeResourceRules].some((rule) => rule.resourceNames.length > 0);
    verdicts.set(match, (memory = { byName, byShape: new Map() }));
  }
  if (memory.byName) return rulesVerdict(match, request);
  let verdict = memory.byShape.get(shape);
  if (verdict === undefined) {
    verdict = rulesVerdict(match, request);
    if (memory.byShape.size < MAX_SHAPES) memory.byShape.set(shape, verdict);
  }
  return verdict;
}

/** true/false, or an error text (kube-apiserver answers 404 for a namespace it does not know). */
function matchNamespaceSelector(selector: LabelSelector, request: AdmissionRequest, cluster: ClusterState): boolean | string {
  const namespace = requestNamespace(request);
  // Cluster-scoped objects other than Namespaces always match.
  if (namespace === '' && request.resource.resource !== 'namespaces') return true;
  if (selector.empty) return true;
  if (
    isNamespaceResource(request.resource) &&
    !request.subResource &&
    (request.operation === 'CREATE' || request.operation === 'UPDATE')
  ) {
    // The Namespace being created or updated is matched by its own (new) labels.
    return selector.matches(labelsOf(request.object));
  }
  const known = cluster.namespace(namespace);
  // A namespace the cluster state does not describe exists (the API server would not
  // accept the request otherwise) but has no labels we know of.
  return selector.matches(labelsOf(known));
}

/** The request's namespace; for a Namespace object, the API server sets it to the object's own name. */
export function requestNamespace(request: AdmissionRequest): string {
  if (request.namespace) return request.namespace;
  if (isNamespaceResource(request.resource)) return request.name ?? '';
  return '';
}

function isNamespaceResource(resource: GroupVersionResource): boolean {
  return resource.group === '' && resource.resource === 'namespaces';
}

function matchObjectSelector(selector: LabelSelector, request: AdmissionRequest): boolean {
  if (selector.empty) return true;
  return matchObject(selector, request.object) || matchObject(selector, request.oldObject);
}

function matchObject(selector: LabelSelector, object: unknown): boolean {
  if (typeof object !== 'object' || object === null) return false;
  return selector.matches(labelsOf(object));
}

interface RuleAttributes {
  readonly resource: GroupVersionResource;
  readonly subResource: string;
  readonly operation: string;
  readonly namespaced: boolean;
  readonly namespaceObject: boolean;
}

function attributesOf(request: AdmissionRequest, resource: GroupVersionResource): RuleAttributes {
  return {
    resource,
    subResource: request.subResource ?? '',
    operation: request.operation,
    namespaced: (request.namespace ?? '') !== '',
    namespaceObject: isNamespaceResource(resource) && resource.version === 'v1',
  };
}

/** The first rule matching, exactly and then (for Equivalent) through an equivalent resource. */
function matchRules(rules: readonly ResourceRule[], policy: MatchPolicy, request: AdmissionRequest): MatchOutcome | undefined {
  if (rules.length === 0) return undefined;
  const exact = attributesOf(request, request.resource);
  for (const rule of rules) {
    if (!ruleMatches(rule, exact)) continue;
    // An empty name list matches every name.
    if (rule.resourceNames.length === 0 || rule.resourceNames.includes(request.name ?? '')) {
      return { matches: true, resource: request.resource, kind: request.kind };
    }
  }
  if (policy === 'Exact') return undefined;
  for (const rule of rules) {
    for (const equivalent of equivalentResources(request.resource, rule)) {
      if (sameResource(equivalent, request.resource)) continue;
      // kube-apiserver does not consult resourceNames on this second pass.
      if (ruleMatches(rule, attributesOf(request, equivalent))) {
        return { matches: true, resource: equivalent, kind: { group: equivalent.group, version: equivalent.version, kind: request.kind.kind } };
      }
    }
  }
  return undefined;
}

function ruleMatches(rule: ResourceRule, attributes: RuleAttributes): boolean {
  return (
    scopeMatches(rule.scope, attributes) &&
    (rule.operations.includes('*') || rule.operations.includes(attributes.operation)) &&
    exactOrWildcard(rule.apiGroups, attributes.resource.group) &&
    exactOrWildcard(rule.apiVersions, attributes.resource.version) &&
    coversResource(rule.resources, attributes.resource.resource, attributes.subResource)
  );
}

/** Whether a rule's `resource/subresource` entries cover these (a loop: this runs per rule and request). */
function coversResource(resources: readonly (readonly [string, string])[], resource: string, subResource: string): boolean {
  for (let i = 0; i < resources.length; i++) {
    const [res, sub] = resources[i]!;
    if ((res === '*' || res === resource) && (sub === '*' || sub === subResource)) return true;
  }
  return false;
}

function scopeMatches(scope: Scope, attributes: RuleAttributes): boolean {
  switch (scope) {
    case '*':
      return true;
    // Namespace objects are cluster-scoped even though their requests carry a namespace.
    case 'Namespaced':
      return !attributes.namespaceObject && attributes.namespaced;
    case 'Cluster':
      return attributes.namespaceObject || !attributes.namespaced;
  }
}

function exactOrWildcard(items: readonly string[], requested: string): boolean {
  return items.includes('*') || items.includes(requested);
}

function sameResource(a: GroupVersionResource, b: GroupVersionResource): boolean {
  return a.group === b.group && a.version === b.version && a.resource === b.resource;
}

/**
 * Resources the API server serves as the same objects under other groups/versions
 * (its EquivalentResourceMapper).
 */
const EQUIVALENT_GROUPS: readonly (readonly [string, readonly (readonly [string, string])[]])[] = [
  ['deployments', [['apps', 'v1'], ['apps', 'v1beta2'], ['apps', 'v1beta1'], ['extensions', 'v1beta1']]],
  ['daemonsets', [['apps', 'v1'], ['apps', 'v1beta2'], ['extensions', 'v1beta1']]],
  ['replicasets', [['apps', 'v1'], ['apps', 'v1beta2'], ['extensions', 'v1beta1']]],
  ['statefulsets', [['apps', 'v1'], ['apps', 'v1beta2'], ['apps', 'v1beta1']]],
  ['controllerrevisions', [['apps', 'v1'], ['apps', 'v1beta2'], ['apps', 'v1beta1']]],
  ['networkpolicies', [['networking.k8s.io', 'v1'], ['extensions', 'v1beta1']]],
  ['ingresses', [['networking.k8s.io', 'v1'], ['networking.k8s.io', 'v1beta1'], ['extensions', 'v1beta1']]],
  ['podsecuritypolicies', [['policy', 'v1beta1'], ['extensions', 'v1beta1']]],
  ['events', [['', 'v1'], ['events.k8s.io', 'v1'], ['events.k8s.io', 'v1beta1']]],
];

/**
 * The resources equivalent to `resource`: the well-known ones from the table, else the
 * same group and resource at each version the rule names (the server treats all served
 * versions of a resource, e.g. of a CRD, as equivalent).
 */
function equivalentResources(resource: GroupVersionResource, rule: ResourceRule): GroupVersionResource[] {
  const entry = EQUIVALENT_GROUPS.find(
    ([name, places]) => name === resource.resource && places.some(([g, v]) => g === resource.group && v === resource.version),
  );
  if (entry) return entry[1].map(([group, version]) => ({ group, version, resource: resource.resource }));
  return rule.apiVersions.filter((v) => v !== '*').map((version) => ({ group: resource.group, version, resource: resource.resource }));
}
