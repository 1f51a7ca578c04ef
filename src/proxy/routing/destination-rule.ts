/**
 * DestinationRule: host, subsets and traffic policies, and their resolution for one
 * destination (host, subset, port).
 *
 * Which rule applies: the exact host before any wildcard, the longest wildcard first. When
 * several rules name the same host, one in the caller's namespace is preferred, then file
 * order; as istiod does when it merges rules for one host, the preferred rule's
 * trafficPolicy applies and subsets are looked up across all of them (first name wins).
 */
import type { DestinationRules, ResolvedDestination } from '../types.js';
import type { FieldReader } from './fields.js';
import { HostIndex, isWildcard, requestHostCandidates, resolveHost } from './hosts.js';
import { type ParsedTrafficPolicy, mergeTrafficPolicy, readTrafficPolicy } from './traffic-policy.js';

/**
 * A route named a subset that no DestinationRule for its host defines. The data plane
 * answers 503, as Envoy does when a route's cluster does not exist (istiod builds no
 * cluster for an undefined subset, so Envoy reports "cluster not found"/no healthy upstream).
 */
export class UnknownSubsetError extends Error {
  constructor(
    readonly host: string,
    readonly subset: string,
    readonly rule: string | undefined,
  ) {
    super(
      rule
        ? `subset '${subset}' of ${host} is not defined by DestinationRule ${rule}`
        : `subset '${subset}' of ${host} is used by a route, but no DestinationRule for ${host} defines subsets`,
    );
    this.name = 'UnknownSubsetError';
  }
}

export interface CompiledSubset {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly trafficPolicy?: ParsedTrafficPolicy;
  readonly rule: CompiledDestinationRule;
}

export interface CompiledDestinationRule {
  readonly ref: string;
  readonly namespace: string;
  readonly host: string;
  readonly trafficPolicy?: ParsedTrafficPolicy;
  readonly subsets: ReadonlyMap<string, CompiledSubset>;
}

export function compileDestinationRule(reader: FieldReader): CompiledDestinationRule | undefined {
  const before = reader.issueCount;
  const spec = reader.object(reader.resource.value.spec, ['spec']);
  if (!spec) {
    reader.report(['spec'], 'spec is required');
    return undefined;
  }
  reader.knownFields(spec, ['spec'], ['host', 'trafficPolicy', 'subsets', 'exportTo', 'workloadSelector']);
  const host = reader.string(spec.host, ['spec', 'host']);
  if (!host) reader.report(['spec', 'host'], 'host is required');
  else if (host.includes('*') && !isWildcard(host)) reader.report(['spec', 'host'], `invalid host '${host}': a wildcard may only be a leading '*.' label or '*' alone`);
  if (spec.workloadSelector !== undefined) reader.report(['spec', 'workloadSelector'], 'workloadSelector is not supported yet by celgate');
  const trafficPolicy = readTrafficPolicy(reader, spec.trafficPolicy, ['spec', 'trafficPolicy']);
  const subsets = new Map<string, CompiledSubset>();
  const rule = {
    ref: reader.ref,
    namespace: reader.namespace,
    host: host ? resolveHost(host, reader.namespace) : '',
    ...(trafficPolicy ? { trafficPolicy } : {}),
    subsets,
  };
  (reader.array(spec.subsets, ['spec', 'subsets']) ?? []).forEach((item, i) => {
    const path = ['spec', 'subsets', i];
    const data = reader.object(item, path);
    if (!data) return;
    reader.knownFields(data, path, ['name', 'labels', 'trafficPolicy']);
    const name = reader.string(data.name, [...path, 'name']);
    if (!name) reader.report([...path, 'name'], 'subset name is required');
    const labels = reader.stringMap(data.labels, [...path, 'labels']) ?? {};
    const policy = readTrafficPolicy(reader, data.trafficPolicy, [...path, 'trafficPolicy']);
    if (!name) return;
    if (subsets.has(name)) {
      reader.report([...path, 'name'], `duplicate subset name '${name}'`);
      return;
    }
    subsets.set(name, { name, labels, ...(policy ? { trafficPolicy: policy } : {}), rule });
  });
  if (reader.issueCount > before) return undefined;
  return rule;
}

export class CompiledDestinationRules implements DestinationRules {
  private readonly index: HostIndex<readonly CompiledDestinationRule[]>;
  /** Resolutions are pure functions of the compiled rules; cache them for the request path. */
  private readonly cache = new Map<string, ResolvedDestination>();

  constructor(private readonly rules: readonly CompiledDestinationRule[]) {
    const byHost = new Map<string, CompiledDestinationRule[]>();
    for (const rule of rules) {
      let list = byHost.get(rule.host);
      if (!list) byHost.set(rule.host, (list = []));
      list.push(rule);
    }
    this.index = new HostIndex(byHost);
  }

  resolve(host: string, subset: string | undefined, port: number | undefined, namespace: string): ResolvedDestination {
    const key = `${host}|${subset ?? ''}|${port ?? ''}|${namespace}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const resolved = this.#resolve(host, subset, port, namespace);
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(key, resolved);
    return resolved;
  }

  #resolve(host: string, subset: string | undefined, port: number | undefined, namespace: string): ResolvedDestination {
    const candidates = this.index.lookup(requestHostCandidates(host.toLowerCase(), namespace)) ?? [];
    const ordered = [...candidates.filter((r) => r.namespace === namespace), ...candidates.filter((r) => r.namespace !== namespace)];
    const primary = ordered[0];
    let found: CompiledSubset | undefined;
    if (subset !== undefined) {
      for (const rule of ordered) {
        found = rule.subsets.get(subset);
        if (found) break;
      }
      if (!found) throw new UnknownSubsetError(host, subset, primary?.ref);
    }
    return {
      ...((found?.rule ?? primary) ? { rule: (found?.rule ?? primary)!.ref } : {}),
      subsetLabels: found?.labels ?? {},
      trafficPolicy: mergeTrafficPolicy(primary?.trafficPolicy, found?.trafficPolicy, port),
    };
  }

  dump(): unknown {
    return {
      destinationRules: this.rules.map((r) => ({
        name: r.ref,
        host: r.host,
        trafficPolicy: r.trafficPolicy && dumpPolicy(r.trafficPolicy),
        subsets: [...r.subsets.values()].map((s) => ({
          name: s.name,
          labels: s.labels,
          trafficPolicy: s.trafficPolicy && dumpPolicy(s.trafficPolicy),
        })),
      })),
    };
  }
}

function dumpPolicy(p: ParsedTrafficPolicy): unknown {
  const { portLevel, ...groups } = p;
  return { ...groups, portLevelSettings: [...portLevel].map(([port, g]) => ({ port, ...g })) };
}
