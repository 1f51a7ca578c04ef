/**
 * Istio PeerAuthentication: which mTLS mode a workload (and port) runs in. Precedence as in
 * the Istio docs (peer_authentication): a workload-selecting policy in the workload's
 * namespace, else the namespace-wide policy, else the mesh-wide one in the root namespace;
 * UNSET inherits from the next level; with none at all the mode is PERMISSIVE.
 */
import type { PolicyIssue, PolicyResource } from '../../policy/index.js';
import { issueAt, isRecord } from './issue.js';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
type ModeOrUnset = MtlsMode | 'UNSET';
const MODES: readonly string[] = ['UNSET', 'STRICT', 'PERMISSIVE', 'DISABLE'];

export interface CompiledPeerAuthentication {
  readonly id: string;
  readonly namespace: string;
  readonly meshWide: boolean;
  readonly matchLabels: Readonly<Record<string, string>> | undefined;
  readonly mode: ModeOrUnset;
  readonly portModes: ReadonlyMap<number, ModeOrUnset>;
  /** Creation time (or load order) for Istio's "oldest wins" tie-break. */
  readonly order: string;
}

export function compilePeerAuthentication(resource: PolicyResource, issues: PolicyIssue[], rootNamespace: string): CompiledPeerAuthentication | undefined {
  const before = issues.length;
  const spec = isRecord(resource.value.spec) ? resource.value.spec : {};
  const namespace = resource.namespace ?? 'default';
  const modeOf = (value: unknown, path: (string | number)[]): ModeOrUnset => {
    if (value === undefined || value === null) return 'UNSET';
    if (!isRecord(value)) {
      issueAt(resource, issues, path, 'mtls must be a mapping with mode');
      return 'UNSET';
    }
    const mode = value.mode ?? 'UNSET';
    if (typeof mode !== 'string' || !MODES.includes(mode)) {
      issueAt(resource, issues, [...path, 'mode'], `unknown mTLS mode ${JSON.stringify(mode)}; expected one of ${MODES.join(', ')}`);
      return 'UNSET';
    }
    return mode as ModeOrUnset;
  };
  let matchLabels: Record<string, string> | undefined;
  if (isRecord(spec.selector) && isRecord(spec.selector.matchLabels)) {
    matchLabels = Object.fromEntries(Object.entries(spec.selector.matchLabels).map(([k, v]) => [k, String(v)]));
  }
  const portModes = new Map<number, ModeOrUnset>();
  if (spec.portLevelMtls !== undefined) {
    if (!matchLabels) issueAt(resource, issues, ['spec', 'portLevelMtls'], 'portLevelMtls requires a workload selector');
    else if (!isRecord(spec.portLevelMtls)) issueAt(resource, issues, ['spec', 'portLevelMtls'], 'portLevelMtls must map port numbers to mtls settings');
    else for (const [port, value] of Object.entries(spec.portLevelMtls)) {
      const n = Number(port);
      if (!Number.isInteger(n) || n < 1 || n > 65535) issueAt(resource, issues, ['spec', 'portLevelMtls', port], `invalid port ${port}`);
      else portModes.set(n, modeOf(value, ['spec', 'portLevelMtls', port]));
    }
  }
  const mode = modeOf(spec.mtls, ['spec', 'mtls']);
  if (issues.length > before) return undefined;
  const metadata = isRecord(resource.value.metadata) ? resource.value.metadata : {};
  const created = typeof metadata.creationTimestamp === 'string' ? metadata.creationTimestamp : '';
  return {
    id: `${namespace}/${resource.name}`,
    namespace,
    meshWide: namespace === rootNamespace && !matchLabels,
    matchLabels,
    mode,
    portModes,
    order: `${created}\u0000${namespace}/${resource.name}`,
  };
}

export interface PeerAuthenticationResult {
  readonly mode: MtlsMode;
  /** The policy that set the mode; undefined when no policy applies (PERMISSIVE default). */
  readonly policy: string | undefined;
}

/** The effective mTLS mode for a workload in `namespace` with `labels`, optionally on `port`. */
export function peerAuthenticationFor(
  policies: readonly CompiledPeerAuthentication[],
  namespace: string,
  labels: Readonly<Record<string, string>>,
  port?: number,
): PeerAuthenticationResult {
  const oldest = (list: CompiledPeerAuthentication[]): CompiledPeerAuthentication | undefined =>
    list.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0))[0];
  const workload = oldest(policies.filter((p) => p.namespace === namespace && p.matchLabels && selects(p.matchLabels, labels)));
  const namespaceWide = oldest(policies.filter((p) => p.namespace === namespace && !p.matchLabels && !p.meshWide));
  const mesh = oldest(policies.filter((p) => p.meshWide));
  const chain: { mode: ModeOrUnset; id: string }[] = [];
  if (workload) {
    const portMode = port === undefined ? undefined : workload.portModes.get(port);
    if (portMode) chain.push({ mode: portMode, id: workload.id });
    chain.push({ mode: workload.mode, id: workload.id });
  }
  if (namespaceWide) chain.push({ mode: namespaceWide.mode, id: namespaceWide.id });
  if (mesh) chain.push({ mode: mesh.mode, id: mesh.id });
  for (const link of chain) if (link.mode !== 'UNSET') return { mode: link.mode, policy: link.id };
  return { mode: 'PERMISSIVE', policy: chain[0]?.id };
}

function selects(matchLabels: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const key in matchLabels) if (labels[key] !== matchLabels[key]) return false;
  return true;
}
