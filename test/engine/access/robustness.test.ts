/** Odd input never crashes the engine: every request gets a decision. */
import { splitPathAndQuery } from '../../../src/engine/access/index.js';
import { compile, decide, req } from './helpers.js';

const policies = compile(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: default}
spec:
  rules: [{to: [{operation: {paths: ["/ok*"]}}]}]
---
apiVersion: celgate.dev/v1alpha1
kind: AccessPolicy
metadata: {name: c, namespace: default}
spec:
  rules:
  - {name: hdr, condition: "request.headers['constructor'] == 'x' || request.query['__proto__'] == 'y' || context.constructor == 'z'"}
`);

describe('robustness', () => {
  it('decides requests with missing parts and odd paths', () => {
    for (const path of ['', 'ok', '%zz', '/ok/%', '/ok%2', '*', 'http://host/ok?x=1', '/ok?'.repeat(1000), `/ok/${'a/'.repeat(5000)}`]) {
      const d = decide(policies, { request: { method: 'GET', path } });
      expect(typeof d.allowed).toBe('boolean');
      expect(d.status === 200 || d.status === 403).toBe(true);
    }
    expect(decide(policies, { request: { method: 'GET', path: 'http://host/ok?x=1' } }).allowed).toBe(true);
  });

  it('wrongly typed fields from a careless adapter give a decision, not a throw', () => {
    const bad = { request: { method: 7, path: 42, headers: { 'x-forwarded-for': ['1.2.3.4'], host: null } } } as never;
    expect(decide(policies, bad)).toMatchObject({ allowed: false, status: 400, reason: expect.stringMatching(/^invalid request/) });
    const odd = { request: { method: 7, path: '/ok', headers: { 'x-forwarded-for': ['1.2.3.4'], host: null } } } as never;
    expect(decide(policies, odd)).toMatchObject({ allowed: true });
  });

  it('header, query and context keys named like object internals are data', () => {
    expect(decide(policies, req({ path: '/nope', headers: { constructor: 'x' }, destination: { namespace: 'default' } })).allowed).toBe(true);
    expect(decide(policies, req({ path: '/nope?__proto__=y', destination: { namespace: 'default' } })).allowed).toBe(true);
    expect(decide(policies, req({ path: '/nope?a=y', destination: { namespace: 'default' } })).allowed).toBe(false);
    expect(decide(policies, req({ path: '/nope', context: { constructor: 'z' }, destination: { namespace: 'default' } })).allowed).toBe(true);
  });

  it('absolute-form request targets keep only path and query', () => {
    expect(splitPathAndQuery('https://h:8443/a/b?c=d')).toEqual({ path: '/a/b', query: 'c=d' });
    expect(splitPathAndQuery('http://h')).toEqual({ path: '/', query: '' });
  });
});
