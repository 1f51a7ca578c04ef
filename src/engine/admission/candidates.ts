/**
 * Which policies could match a request at all, by resource, subresource and operation,
 * worked out once per compiled set and request shape: a ConfigMap request never walks
 * the rules of twenty Pod policies.
 *
 * The filter is conservative, so it changes no outcome: group, version, scope and names
 * are left to matchRequest (matchPolicy Equivalent may match a rule through another group
 * or version, but never another resource name), and a policy without resourceRules is
 * always a candidate. A policy left out could neither match nor report a configuration
 * error, as matchRequest reports those only for requests its rules cover.
 */
import type { ResourceRule } from './match.js';
import type { CompiledPolicy } from './policies.js';
import type { AdmissionRequest } from './types.js';

/** Request shapes remembered per set; beyond this (odd resource names), candidates are computed each time. */
const MAX_SHAPES = 1000;

const bySet = new WeakMap<readonly CompiledPolicy[], Map<string, readonly CompiledPolicy[]>>();

/** The policies, in their order, whose resourceRules could cover the request. */
export function candidatesFor<P extends CompiledPolicy>(policies: readonly P[], request: AdmissionRequest): readonly P[] {
  const resource = request.resource.resource;
  const subResource = request.subResource ?? '';
  const operation = request.operation;
  let shapes = bySet.get(policies);
  if (!shapes) {
    shapes = new Map();
    bySet.set(policies, shapes);
  }
  const key = `${resource}/${subResource}/${operation}`;
  let found = shapes.get(key) as readonly P[] | undefined;
  if (!found) {
    found = policies.filter((p) => p.match.resourceRules.length === 0 || p.match.resourceRules.some((rule) => couldCover(rule, resource, subResource, operation)));
    if (shapes.size < MAX_SHAPES) shapes.set(key, found);
  }
  return found;
}

function couldCover(rule: ResourceRule, resource: string, subResource: string, operation: string): boolean {
  return (
    (rule.operations.includes('*') || rule.operations.includes(operation)) &&
    rule.resources.some(([res, sub]) => (res === '*' || res === resource) && (sub === '*' || sub === subResource))
  );
}
