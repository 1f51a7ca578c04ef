/**
 * Building the immutable access policy set: every kind compiled once, policies indexed by
 * the namespace they apply to so a decision only looks at its workload's candidates.
 */
import type { PolicyIssue, PolicyResource } from '../../policy/index.js';
import type { RequestView } from './attributes.js';
import { compileAuthorizationPolicy } from './istio-authz.js';
import type { PathNormalization } from './paths.js';
import type { CompiledPolicy } from './policy.js';
import { bucket, type Candidates } from './combine.js';
import { compileAccessPolicy } from './access-policy.js';
import { compileRequestAuthentication, JwksCache, type CompiledRequestAuthentication } from './request-authn.js';
import { compilePeerAuthentication, type CompiledPeerAuthentication } from './peer-authn.js';

export interface CompileOptions {
  /** Istio's root namespace: policies there apply mesh-wide. Default `istio-system`. */
  readonly rootNamespace?: string;
  /** Default `BASE`, as Istio's default installation. */
  readonly pathNormalization?: PathNormalization;
  /** Envoy's xff_num_trusted_hops for `remote.ip` / remoteIpBlocks. Default 0. */
  readonly xffNumTrustedHops?: number;
  /** Claim holding group names for AccessPolicy `group` subjects. Default `groups`. */
  readonly groupsClaim?: string;
  /** Timeout for fetching a jwksUri, in ms. Default 5000. */
  readonly jwksTimeoutMs?: number;
  /** How long a fetched JWKS is reused before refetching, in ms. Default 10 minutes. */
  readonly jwksCacheMs?: number;
}

export interface AccessPolicies {
  readonly rootNamespace: string;
  readonly pathNormalization: PathNormalization;
  readonly xffNumTrustedHops: number;
  readonly policies: readonly CompiledPolicy[];
  readonly requestAuthentications: readonly CompiledRequestAuthentication[];
  readonly peerAuthentications: readonly CompiledPeerAuthentication[];
  /** Non-fatal notes (e.g. CUSTOM actions are recorded, not delegated). */
  readonly warnings: readonly PolicyIssue[];
  /** Candidates for a destination namespace (its own policies plus mesh-wide ones). */
  candidates(view: RequestView): Candidates;
  readonly jwks: JwksCache;
}

export function compileAccessPolicies(resources: readonly PolicyResource[], issues: PolicyIssue[], options: CompileOptions = {}): AccessPolicies {
  const rootNamespace = options.rootNamespace ?? 'istio-system';
  const warnings: PolicyIssue[] = [];
  const policies: CompiledPolicy[] = [];
  const requestAuthentications: CompiledRequestAuthentication[] = [];
  const peerAuthentications: CompiledPeerAuthentication[] = [];
  for (const resource of resources) {
    switch (resource.type.kind) {
      case 'AuthorizationPolicy': {
        const p = compileAuthorizationPolicy(resource, issues, { rootNamespace, warnings });
        if (p) policies.push(p);
        break;
      }
      case 'AccessPolicy': {
        const p = compileAccessPolicy(resource, issues, { rootNamespace, groupsClaim: options.groupsClaim ?? 'groups' });
        if (p) policies.push(p);
        break;
      }
      case 'RequestAuthentication': {
        const r = compileRequestAuthentication(resource, issues, rootNamespace);
        if (r) requestAuthentications.push(r);
        break;
      }
      case 'PeerAuthentication': {
        const r = compilePeerAuthentication(resource, issues, rootNamespace);
        if (r) peerAuthentications.push(r);
        break;
      }
      default:
        break;
    }
  }
  const meshWidePolicies = policies.filter((p) => p.scope.meshWide);
  const lists = new Map<string, CompiledPolicy[]>();
  for (const p of policies) {
    if (p.scope.meshWide) continue;
    let list = lists.get(p.scope.namespace);
    if (!list) lists.set(p.scope.namespace, (list = [...meshWidePolicies]));
    list.push(p);
  }
  const meshWide = bucket(meshWidePolicies);
  const byNamespace = new Map([...lists].map(([ns, list]) => [ns, bucket(list)]));
  return {
    rootNamespace,
    pathNormalization: options.pathNormalization ?? 'BASE',
    xffNumTrustedHops: options.xffNumTrustedHops ?? 0,
    policies,
    requestAuthentications,
    peerAuthentications,
    warnings,
    candidates: (view) => byNamespace.get(view.destinationNamespace) ?? meshWide,
    jwks: new JwksCache({ timeoutMs: options.jwksTimeoutMs ?? 5000, cacheMs: options.jwksCacheMs ?? 600_000 }),
  };
}
