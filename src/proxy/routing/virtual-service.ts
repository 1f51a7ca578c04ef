/**
 * VirtualService: hosts, gateways and the ordered `http` routes. `exportTo` is accepted and
 * ignored (celgate's proxy sees every VirtualService it is given).
 */
import type { FieldReader } from './fields.js';
import { resolveHost } from './hosts.js';
import { type CompiledHttpRoute, readHttpRoute } from './http-route.js';
import { MESH_GATEWAY, resolveGatewayName } from './gateway-names.js';

export interface CompiledVirtualService {
  /** `namespace/name`. */
  readonly ref: string;
  readonly namespace: string;
  /** Fully qualified hosts or wildcards. */
  readonly hosts: readonly string[];
  /** The VirtualService's gateways (`mesh` when none are listed). */
  readonly gateways: ReadonlySet<string>;
  /** Gateways the VirtualService binds to at all: its own plus those named by any match. */
  readonly boundGateways: ReadonlySet<string>;
  readonly http: readonly CompiledHttpRoute[];
}

const SPEC_FIELDS = ['hosts', 'gateways', 'http', 'tls', 'tcp', 'exportTo'];

export function compileVirtualService(reader: FieldReader): CompiledVirtualService | undefined {
  const before = reader.issueCount;
  const namespace = reader.namespace;
  const spec = reader.object(reader.resource.value.spec, ['spec']);
  if (!spec) {
    reader.report(['spec'], 'spec is required');
    return undefined;
  }
  reader.knownFields(spec, ['spec'], SPEC_FIELDS);
  const hostList = reader.stringList(spec.hosts, ['spec', 'hosts']) ?? [];
  if (hostList.length === 0) reader.report(['spec', 'hosts'], 'hosts must list at least one host (delegate VirtualServices are not supported yet)');
  hostList.forEach((h, i) => {
    if (h === '' || (h.includes('*') && h !== '*' && !(h.startsWith('*.') && !h.slice(2).includes('*')))) {
      reader.report(['spec', 'hosts', i], `invalid host '${h}': a wildcard may only be a leading '*.' label or '*' alone`);
    }
  });
  const gatewayList = reader.stringList(spec.gateways, ['spec', 'gateways']) ?? [];
  // Istio: when gateways is omitted, the default gateway (mesh) is used.
  const gateways = new Set(gatewayList.length === 0 ? [MESH_GATEWAY] : gatewayList.map((g) => resolveGatewayName(g, namespace)));
  for (const kind of ['tcp', 'tls'] as const) {
    if (spec[kind] !== undefined) reader.report(['spec', kind], `${kind} routes are not supported yet by celgate (only http)`);
  }
  if (reader.issueCount > before) return undefined;

  const http: CompiledHttpRoute[] = [];
  (reader.array(spec.http, ['spec', 'http']) ?? []).forEach((item, i) => {
    const route = readHttpRoute(reader, item, ['spec', 'http', i], i);
    if (route) http.push(route);
  });
  const boundGateways = new Set(gateways);
  for (const r of http) for (const m of r.matches) for (const g of m.gateways ?? []) boundGateways.add(g);
  return {
    ref: reader.ref,
    namespace,
    hosts: [...new Set(hostList.map((h) => resolveHost(h, namespace)))],
    gateways,
    boundGateways,
    http,
  };
}
