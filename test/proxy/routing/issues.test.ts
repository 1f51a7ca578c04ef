import { compileFixture, request } from './helpers.js';

const FIXTURE = 'test/proxy/routing/fixtures/broken.yaml';

describe('bad routing resources', () => {
  it('reports every bad field at its file:line:col with the field path, and never throws', async () => {
    const { messages } = await compileFixture(FIXTURE);
    expect(messages).toEqual([
      expect.stringMatching(/^test\/proxy\/routing\/fixtures\/broken\.yaml:10:20: VirtualService shop\/reviews: spec\.http\[0\]\.match\[0\]\.uri\.regex: invalid RE2 regular expression "\/\(unclosed": .*\(spec\.http\[0\]\.match\[0\]\.uri\.regex\)$/),
      `${FIXTURE}:16:15: VirtualService shop/reviews: spec.http[1].route[0].weight: must be an integer 0..100 (spec.http[1].route[0].weight)`,
      `${FIXTURE}:13:14: VirtualService shop/reviews: spec.http[1].timeout: invalid duration '1.5 seconds'; use a number with a unit, e.g. 300ms, 1.5s, 5m or 1h (spec.http[1].timeout)`,
      expect.stringContaining(`${FIXTURE}:19:37: VirtualService shop/reviews: spec.http[2].retries.retryOn: unknown retry policy 'sometimes'; expected status codes or 5xx, gateway-error,`),
      `${FIXTURE}:22:15: VirtualService shop/reviews: spec.http[3].redirect: set only one of route, redirect, directResponse or delegate (found route and redirect) (spec.http[3].redirect)`,
      `${FIXTURE}:26:12: VirtualService shop/reviews: spec.http[4].match[0].uri: set only one of exact, prefix or regex (found exact and prefix) (spec.http[4].match[0].uri)`,
      `${FIXTURE}:40:28: DestinationRule shop/reviews: spec.trafficPolicy.loadBalancer.simple: unknown value 'ROUND_ROBBIN'; expected one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST (did you mean ROUND_ROBIN?) (spec.trafficPolicy.loadBalancer.simple)`,
      `${FIXTURE}:41:34: DestinationRule shop/reviews: spec.trafficPolicy.outlierDetection.interval: invalid duration 'soon'; use a number with a unit, e.g. 300ms, 1.5s, 5m or 1h (spec.trafficPolicy.outlierDetection.interval)`,
      `${FIXTURE}:45:11: DestinationRule shop/reviews: spec.subsets[1].name: duplicate subset name 'v1' (spec.subsets[1].name)`,
      `${FIXTURE}:58:17: Gateway istio-system/ingress: spec.servers[0].tls.mode: mode SIMPLE needs credentialName, or serverCertificate and privateKey (spec.servers[0].tls.mode)`,
      `${FIXTURE}:59:46: Gateway istio-system/ingress: spec.servers[1].port.protocol: unknown value 'HTTPZ'; expected one of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP, TLS (did you mean HTTP?) (spec.servers[1].port.protocol)`,
      `${FIXTURE}:71:5: VirtualService shop/typo: spec.http[0].rout: unknown field 'rout' (did you mean route?) (spec.http[0].rout)`,
      `${FIXTURE}:70:5: VirtualService shop/typo: spec.http[0]: an http route needs one of route, redirect or directResponse (spec.http[0])`,
    ]);
  });

  it('skips only the bad parts: the good route of a VirtualService with bad routes still serves', async () => {
    const { routing } = await compileFixture(FIXTURE);
    expect(routing.routes.route(request({ path: '/anything' }))?.route.name).toBe('shop/reviews/5');
    // The DestinationRule with problems is dropped as a whole, so its subsets do not half-apply.
    expect(routing.destinationRules.resolve('reviews.shop.svc.cluster.local', undefined, 80, 'shop').rule).toBeUndefined();
    expect(routing.gateways.get('istio-system/ingress')).toBeUndefined();
  });
});

describe('cross-field checks', () => {
  it('rejects weights that add up to 0, rewrite with redirect, and unsupported features with a "not yet" message', async () => {
    const { compileYaml } = await import('./helpers.js');
    const { messages } = await compileYaml(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: shop}
spec:
  hosts: [r]
  tcp:
  - route: [{destination: {host: r}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: w, namespace: shop}
spec:
  hosts: [w]
  http:
  - route:
    - destination: {host: a}
    - destination: {host: b}
  - redirect: {uri: /x}
    rewrite: {uri: /y}
  - delegate: {name: other}
`);
    expect(messages).toEqual([
      'mesh.yaml:8:3: VirtualService shop/r: spec.tcp: tcp routes are not supported yet by celgate (only http) (spec.tcp)',
      "mesh.yaml:17:5: VirtualService shop/w: spec.http[0].route: the destinations' weights add up to 0; give at least one destination a weight (spec.http[0].route)",
      'mesh.yaml:20:14: VirtualService shop/w: spec.http[1].rewrite: rewrite cannot be used with redirect (spec.http[1].rewrite)',
      'mesh.yaml:21:15: VirtualService shop/w: spec.http[2].delegate: delegate VirtualServices are not supported yet by celgate (spec.http[2].delegate)',
    ]);
  });
});
