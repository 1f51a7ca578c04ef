/**
 * PeerAuthentication. Istio docs (peer_authentication): "Policy precedence: workload-specific
 * policy > namespace-wide policy > mesh-wide policy", mode UNSET "inherit from parent", and
 * with no policy the mode is PERMISSIVE; portLevelMtls "only valid with a workload selector".
 */
import { peerAuthenticationFor } from '../../../src/engine/access/index.js';
import { compile, decide, issuesOf, req } from './helpers.js';

const pa = (name: string, namespace: string, spec: string) => `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${name}, namespace: ${namespace}}
spec: ${spec}
`;

describe('PeerAuthentication', () => {
  const p = compile(
    pa('mesh', 'istio-system', '{mtls: {mode: STRICT}}') +
      pa('ns', 'legacy', '{mtls: {mode: PERMISSIVE}}') +
      pa('db', 'legacy', '{selector: {matchLabels: {app: db}}, mtls: {mode: UNSET}, portLevelMtls: {"5432": {mode: DISABLE}}}') +
      pa('web', 'legacy', '{selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}}'),
  );

  it('resolves workload > namespace > mesh, with UNSET inheriting and port-level overrides', () => {
    expect(peerAuthenticationFor(p.peerAuthentications, 'foo', {})).toEqual({ mode: 'STRICT', policy: 'istio-system/mesh' });
    expect(peerAuthenticationFor(p.peerAuthentications, 'legacy', {})).toEqual({ mode: 'PERMISSIVE', policy: 'legacy/ns' });
    expect(peerAuthenticationFor(p.peerAuthentications, 'legacy', { app: 'web' })).toEqual({ mode: 'STRICT', policy: 'legacy/web' });
    expect(peerAuthenticationFor(p.peerAuthentications, 'legacy', { app: 'db' })).toEqual({ mode: 'PERMISSIVE', policy: 'legacy/ns' });
    expect(peerAuthenticationFor(p.peerAuthentications, 'legacy', { app: 'db' }, 5432)).toEqual({ mode: 'DISABLE', policy: 'legacy/db' });
    expect(peerAuthenticationFor([], 'x', {})).toEqual({ mode: 'PERMISSIVE', policy: undefined });
  });

  it('STRICT denies a request that did not come over mutual TLS', () => {
    expect(decide(p, req())).toMatchObject({ allowed: false, status: 403, reason: expect.stringMatching(/istio-system\/mesh requires mutual TLS/) });
    expect(decide(p, req({ connection: { mtls: true } })).allowed).toBe(true);
    expect(decide(p, req({ principal: 'spiffe://cluster.local/ns/a/sa/b' })).allowed).toBe(true);
    expect(decide(p, req({ destination: { namespace: 'legacy' } })).allowed).toBe(true);
  });

  it('reports bad modes and portLevelMtls without a selector', () => {
    expect(issuesOf(pa('x', 'foo', '{mtls: {mode: STRICTEST}}'))).toEqual([expect.stringMatching(/^policy\.yaml:5:21: unknown mTLS mode "STRICTEST"/)]);
    expect(issuesOf(pa('x', 'foo', '{portLevelMtls: {"80": {mode: DISABLE}}}'))).toEqual([expect.stringMatching(/portLevelMtls requires a workload selector/)]);
  });
});
