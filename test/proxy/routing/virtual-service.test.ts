import { compileYaml, request } from './helpers.js';
import { rewritePath, redirectLocation, type RoutingRoute } from '../../../src/proxy/routing/index.js';

const vs = (name: string, spec: string, namespace = 'shop') => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
${spec}
`;

/** The destination host of the route a request gets, or undefined. */
const hostFor = (routing: Awaited<ReturnType<typeof compileYaml>>['routing'], r: Parameters<typeof request>[0]) => {
  const m = routing.routes.route(request(r));
  return m ? `${m.route.name} -> ${m.route.destinations?.map((d) => d.host + (d.subset ? `:${d.subset}` : '')).join(',')}` : undefined;
};

describe('VirtualService host selection', () => {
  it('resolves short hosts in the resource namespace and short request hosts in the proxy namespace', async () => {
    // Istio (Destination.host): a short name "reviews" in namespace "default" "will be interpreted as
    // reviews.default.svc.cluster.local".
    const { routing, messages } = await compileYaml(
      vs('inventory', `  hosts: [inventory]
  http:
  - route:
    - destination: {host: inventory}`),
    );
    expect(messages).toEqual([]);
    for (const authority of ['inventory', 'inventory:8080', 'inventory.shop', 'inventory.shop.svc', 'inventory.shop.svc.cluster.local', 'INVENTORY.shop.svc.cluster.local.']) {
      expect(hostFor(routing, { authority })).toBe('shop/inventory/0 -> inventory.shop.svc.cluster.local');
    }
    // From another namespace, the short name means another service.
    expect(hostFor(routing, { authority: 'inventory', namespace: 'other' })).toBeUndefined();
    expect(hostFor(routing, { authority: 'inventory.other' })).toBeUndefined();
  });

  it('prefers an exact host, then the longest wildcard, then *', async () => {
    const { routing, messages } = await compileYaml(
      vs('exact', `  hosts: [api.example.com]
  http:
  - route: [{destination: {host: exact.shop.svc.cluster.local}}]`) +
        vs('wild', `  hosts: ["*.example.com"]
  http:
  - route: [{destination: {host: wild.shop.svc.cluster.local}}]`) +
        vs('wilder', `  hosts: ["*.eu.example.com"]
  http:
  - route: [{destination: {host: wilder.shop.svc.cluster.local}}]`) +
        vs('all', `  hosts: ["*"]
  http:
  - route: [{destination: {host: all.shop.svc.cluster.local}}]`),
    );
    expect(messages).toEqual([]);
    expect(hostFor(routing, { authority: 'api.example.com' })).toMatch(/-> exact\./);
    expect(hostFor(routing, { authority: 'web.example.com' })).toMatch(/-> wild\./);
    expect(hostFor(routing, { authority: 'web.eu.example.com' })).toMatch(/-> wilder\./);
    // A wildcard label needs at least one label in its place.
    expect(hostFor(routing, { authority: 'example.com' })).toMatch(/-> all\./);
    expect(hostFor(routing, { authority: 'anything.org' })).toMatch(/-> all\./);
  });

  it('binds to mesh when gateways is absent, and to listed gateways (short names in the VirtualService namespace)', async () => {
    // Istio (VirtualService.gateways): "If this field is omitted, the default gateway (mesh) will be used."
    const { routing, messages } = await compileYaml(
      vs('mesh-only', `  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]`) +
        vs('edge', `  hosts: [reviews]
  gateways: [ingress, other/edge, mesh]
  http:
  - route: [{destination: {host: reviews-edge}}]`),
    );
    expect(messages).toEqual([]);
    expect(hostFor(routing, { gateway: 'mesh' })).toBe('shop/mesh-only/0 -> reviews.shop.svc.cluster.local');
    expect(hostFor(routing, { gateway: 'shop/ingress' })).toBe('shop/edge/0 -> reviews-edge.shop.svc.cluster.local');
    expect(hostFor(routing, { gateway: 'other/edge' })).toBe('shop/edge/0 -> reviews-edge.shop.svc.cluster.local');
    expect(hostFor(routing, { gateway: 'shop/unknown' })).toBeUndefined();
  });

  it('concatenates the routes of VirtualServices for the same host in file order', async () => {
    const { routing } = await compileYaml(
      vs('first', `  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: a}}]`) +
        vs('second', `  hosts: [reviews.shop.svc.cluster.local]
  http:
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: shadowed}}]
  - route: [{destination: {host: b}}]`),
    );
    expect(hostFor(routing, { path: '/a/1' })).toBe('shop/first/0 -> a.shop.svc.cluster.local');
    expect(hostFor(routing, { path: '/b' })).toBe('shop/second/1 -> b.shop.svc.cluster.local');
  });
});

describe('HTTPMatchRequest', () => {
  const spec = `  hosts: [reviews]
  http:
  - name: jason
    match:
    - headers: {end-user: {exact: jason}}
      uri: {prefix: /ratings/v2/}
      ignoreUriCase: true
    route: [{destination: {host: reviews, subset: v2}}]
  - name: either
    match:
    - method: {exact: POST}
    - queryParams: {debug: {exact: "1"}, id: {regex: "\\\\d+"}}
    route: [{destination: {host: reviews, subset: either}}]
  - name: present
    match:
    - headers: {x-canary: {}}
      withoutHeaders: {x-skip: {prefix: "y"}}
    route: [{destination: {host: reviews, subset: canary}}]
  - name: source
    match:
    - sourceLabels: {app: shopping}
      sourceNamespace: shop
      port: 9080
    route: [{destination: {host: reviews, subset: source}}]
  - name: exact
    match:
    - uri: {exact: /exact}
      scheme: {exact: https}
    - uri: {regex: "/items/[0-9]+"}
      authority: {prefix: "reviews"}
    route: [{destination: {host: reviews, subset: exact}}]
  - name: fallback
    route: [{destination: {host: reviews, subset: v1}}]`;

  it('ANDs the fields of one match, ORs the entries, first route wins, a route without match catches all', async () => {
    // Istio (HTTPRoute.match): "All conditions inside a single match block have AND semantics,
    // while the list of match blocks have OR semantics."
    const { routing, messages } = await compileYaml(vs('reviews', spec));
    expect(messages).toEqual([]);
    const name = (r: Parameters<typeof request>[0]) => routing.routes.route(request(r))?.route.name;
    expect(name({ path: '/RATINGS/v2/x', headers: { 'end-user': 'jason' } })).toBe('shop/reviews/jason');
    expect(name({ path: '/ratings/v2/x', headers: { 'end-user': 'Jason' } })).toBe('shop/reviews/fallback');
    expect(name({ path: '/ratings/v2/x' })).toBe('shop/reviews/fallback');
    expect(name({ method: 'POST' })).toBe('shop/reviews/either');
    expect(name({ path: '/x?debug=1&id=42' })).toBe('shop/reviews/either');
    // Regex is a full match: "id=a42" does not match \d+.
    expect(name({ path: '/x?debug=1&id=a42' })).toBe('shop/reviews/fallback');
    expect(name({ path: '/x?debug=%31&id=7' })).toBe('shop/reviews/either');
    // `{}` means "present" (Istio: "If the value is empty and only the name of header is specified, presence of the header is checked").
    expect(name({ headers: { 'x-canary': '' } })).toBe('shop/reviews/present');
    expect(name({ headers: { 'x-canary': '1', 'x-skip': 'yes' } })).toBe('shop/reviews/fallback');
    expect(name({ headers: { 'x-canary': '1', 'x-skip': 'no' } })).toBe('shop/reviews/present');
    expect(name({ sourceLabels: { app: 'shopping', v: '1' }, sourceNamespace: 'shop', port: 9080 })).toBe('shop/reviews/source');
    expect(name({ sourceLabels: { app: 'shopping' }, sourceNamespace: 'shop', port: 80 })).toBe('shop/reviews/fallback');
    expect(name({ path: '/exact', scheme: 'https' })).toBe('shop/reviews/exact');
    expect(name({ path: '/exact?q=1', headers: { 'x-forwarded-proto': 'https' } })).toBe('shop/reviews/exact');
    expect(name({ path: '/exact' })).toBe('shop/reviews/fallback');
    expect(name({ path: '/items/12' })).toBe('shop/reviews/exact');
    expect(name({ path: '/items/12/more' })).toBe('shop/reviews/fallback');
  });

  it('applies per-match gateways instead of the VirtualService gateways', async () => {
    // Istio (HTTPMatchRequest.gateways): "Gateway names in the top-level gateways field of the
    // VirtualService (if any) are overridden."
    const { routing, messages } = await compileYaml(
      vs('reviews', `  hosts: [reviews]
  http:
  - match: [{gateways: [istio-system/ingress]}]
    route: [{destination: {host: reviews, subset: edge}}]
  - route: [{destination: {host: reviews, subset: v1}}]`),
    );
    expect(messages).toEqual([]);
    expect(routing.routes.route(request({ gateway: 'istio-system/ingress' }))?.route.name).toBe('shop/reviews/0');
    expect(routing.routes.route(request({ gateway: 'mesh' }))?.route.name).toBe('shop/reviews/1');
  });

  it('runs regexes on RE2: a catastrophic pattern for backtracking engines stays fast', async () => {
    const { routing, messages } = await compileYaml(
      vs('reviews', `  hosts: [reviews]
  http:
  - match: [{uri: {regex: "/(a+)+$"}}]
    route: [{destination: {host: reviews}}]`),
    );
    expect(messages).toEqual([]);
    const started = Date.now();
    expect(routing.routes.route(request({ path: '/' + 'a'.repeat(5000) + '!' }))).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(500);
    expect(routing.routes.route(request({ path: '/aaa' }))?.route.name).toBe('shop/reviews/0');
  });
});

describe('route destinations and weights', () => {
  it('splits traffic by weight over 10,000 picks and never picks weight 0', async () => {
    const { routing, messages } = await compileYaml(
      vs('reviews', `  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 75
    - destination: {host: reviews, subset: v2}
      weight: 25
    - destination: {host: reviews, subset: v3}
      weight: 0`),
    );
    expect(messages).toEqual([]);
    const route = routing.routes.route(request())!.route;
    const counts: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) {
      const d = routing.routes.pickDestination(route, Math.random());
      counts[d.subset!] = (counts[d.subset!] ?? 0) + 1;
    }
    expect(counts.v3).toBeUndefined();
    expect(Math.abs(counts.v1! - 7500)).toBeLessThan(300);
    expect(Math.abs(counts.v2! - 2500)).toBeLessThan(300);
    expect(routing.routes.pickDestination(route, 0).subset).toBe('v1');
    expect(routing.routes.pickDestination(route, 0.7499).subset).toBe('v1');
    expect(routing.routes.pickDestination(route, 0.75).subset).toBe('v2');
    expect(routing.routes.pickDestination(route, 0.99999).subset).toBe('v2');
  });

  it('treats a single destination as weight 100 and weights as proportions when they do not add up to 100', async () => {
    // Istio (HTTPRouteDestination.weight): "Sum of weights across destinations SHOULD BE == 100. If there is
    // only one destination in a rule, the weight value is assumed to be 100."
    const { routing, messages } = await compileYaml(
      vs('one', `  hosts: [one]
  http:
  - route: [{destination: {host: one, port: {number: 9080}}}]`) +
        vs('two', `  hosts: [two]
  http:
  - route:
    - {destination: {host: a}, weight: 1}
    - {destination: {host: b}, weight: 3}`),
    );
    expect(messages).toEqual([]);
    const one = routing.routes.route(request({ authority: 'one' }))!.route;
    expect(one.destinations).toEqual([{ host: 'one.shop.svc.cluster.local', port: 9080, weight: 100 }]);
    const two = routing.routes.route(request({ authority: 'two' }))!.route;
    let b = 0;
    for (let i = 0; i < 10_000; i++) if (routing.routes.pickDestination(two, Math.random()).host.startsWith('b.')) b++;
    expect(Math.abs(b - 7500)).toBeLessThan(300);
  });
});

describe('route actions', () => {
  it('rewrites the matched prefix, the whole path for exact matches, and with uriRegexRewrite groups', async () => {
    // Istio (HTTPRewrite.uri): "If the original URI was matched based on prefix, the value provided in this
    // field will replace the corresponding matched prefix."
    const { routing, messages } = await compileYaml(
      vs('ratings', `  hosts: [ratings]
  http:
  - match: [{uri: {prefix: /ratings}}]
    rewrite: {uri: /v1/bookRatings, authority: ratings-v1}
    route: [{destination: {host: ratings}}]
  - match: [{uri: {exact: /old}}]
    rewrite: {uri: /new}
    route: [{destination: {host: ratings}}]
  - match: [{uri: {prefix: /service}}]
    rewrite:
      uriRegexRewrite: {match: "^/service/([^/]+)/v1/api$", rewrite: "/customprefix/\\\\1/v1/api"}
    route: [{destination: {host: ratings}}]`),
    );
    expect(messages).toEqual([]);
    const rewrite = (path: string) => rewritePath(routing.routes.route(request({ authority: 'ratings', path }))!, path);
    expect(rewrite('/ratings/5?x=1')).toBe('/v1/bookRatings/5?x=1');
    expect(rewrite('/old?x=1')).toBe('/new?x=1');
    // Istio's uriRegexRewrite example: "/service/update/v1/api" → "/customprefix/update/v1/api".
    expect(rewrite('/service/update/v1/api')).toBe('/customprefix/update/v1/api');
    expect(routing.routes.route(request({ authority: 'ratings', path: '/ratings' }))!.route.rewrite?.authority).toBe('ratings-v1');
  });

  it('rewrites the leading slash on a route without a uri match, as Istio programs it (prefix "/")', async () => {
    // Istio turns a match without `uri` into Envoy's prefix "/" match, so rewrite.uri replaces that "/".
    const { routing } = await compileYaml(
      vs('api', `  hosts: [api]
  http:
  - rewrite: {uri: /v2/}
    route: [{destination: {host: api}}]`),
    );
    const m = routing.routes.route(request({ authority: 'api', path: '/users?id=1' }))!;
    expect(m.matchedPrefix).toBe('/');
    expect(rewritePath(m, '/users?id=1')).toBe('/v2/users?id=1');
  });

  it('redirects (default 301) and answers directly', async () => {
    // Istio (HTTPRedirect.redirectCode): "The default response code is MOVED_PERMANENTLY (301)."
    const { routing, messages } = await compileYaml(
      vs('ratings', `  hosts: [ratings.example.com]
  http:
  - match: [{uri: {exact: /v1/getProductRatings}}]
    redirect: {uri: /v1/bookRatings, authority: newratings.example.com}
  - match: [{uri: {prefix: /secure}}]
    redirect: {scheme: https, derivePort: FROM_PROTOCOL_DEFAULT, redirectCode: 308}
  - match: [{uri: {prefix: /gone}}]
    directResponse: {status: 410, body: {string: "gone for good"}}
  - match: [{uri: {prefix: /bytes}}]
    directResponse: {status: 503, body: {bytes: "aGVsbG8="}}`),
    );
    expect(messages).toEqual([]);
    const m = routing.routes.route(request({ authority: 'ratings.example.com:8080', path: '/v1/getProductRatings?u=1' }))!;
    expect(m.route.redirect?.status).toBe(301);
    expect(redirectLocation(m, { scheme: 'http', authority: 'ratings.example.com:8080', path: '/v1/getProductRatings?u=1' })).toBe(
      'http://newratings.example.com/v1/bookRatings?u=1',
    );
    const secure = routing.routes.route(request({ authority: 'ratings.example.com:8080', path: '/secure/x' }))!;
    expect(secure.route.redirect?.status).toBe(308);
    expect(redirectLocation(secure, { scheme: 'http', authority: 'ratings.example.com:8080', path: '/secure/x' })).toBe('https://ratings.example.com/secure/x');
    expect(routing.routes.route(request({ authority: 'ratings.example.com', path: '/gone' }))!.route.directResponse).toEqual({ status: 410, body: 'gone for good' });
    expect(routing.routes.route(request({ authority: 'ratings.example.com', path: '/bytes' }))!.route.directResponse).toEqual({ status: 503, body: 'hello' });
  });

  it('uses Istio default retries when none are set, and parses timeouts, retries, faults, mirrors and headers', async () => {
    // Istio sets "two retries ... in the case of connect-failure, refused-stream, unavailable, cancelled, or
    // retriable-status-codes" by default (config_dump: retriable_status_codes [503]); attempts 0 disables.
    const { routing, messages } = await compileYaml(
      vs('r', `  hosts: [r]
  http:
  - match: [{uri: {prefix: /default}}]
    route: [{destination: {host: r}}]
  - match: [{uri: {prefix: /custom}}]
    timeout: 1.5s
    retries: {attempts: 3, perTryTimeout: 300ms, retryOn: "gateway-error,connect-failure,503,429"}
    fault:
      delay: {fixedDelay: 5s, percentage: {value: 0.1}}
      abort: {httpStatus: 418}
    mirror: {host: shadow}
    mirrorPercentage: {value: 12.5}
    headers:
      request: {set: {X-Test: true}, add: {x-add: a}, remove: [X-Drop]}
      response: {remove: [foo]}
    route: [{destination: {host: r}}]
  - match: [{uri: {prefix: /off}}]
    timeout: 0s
    retries: {attempts: 0}
    mirrors:
    - destination: {host: m1}
    - destination: {host: m2}
      percentage: {value: 5}
    route: [{destination: {host: r}}]`),
    );
    expect(messages).toEqual([]);
    const route = (path: string) => routing.routes.route(request({ authority: 'r', path }))!.route as RoutingRoute;
    const d = route('/default');
    expect(d.retries.attempts).toBe(2);
    expect([...d.retries.retryOn].sort()).toEqual(['cancelled', 'connect-failure', 'refused-stream', 'retriable-status-codes', 'unavailable']);
    expect([...d.retries.retriableStatusCodes]).toEqual([503]);
    expect(d.timeoutMs).toBeUndefined();
    const c = route('/custom');
    expect(c.timeoutMs).toBe(1500);
    expect(c.retries.attempts).toBe(3);
    expect(c.retries.perTryTimeoutMs).toBe(300);
    expect([...c.retries.retryOn].sort()).toEqual(['connect-failure', 'gateway-error', 'retriable-status-codes']);
    expect([...c.retries.retriableStatusCodes].sort()).toEqual([429, 503]);
    // Istio (fault.abort/delay.percentage): "If left unspecified, all request will be delayed."
    expect(c.fault).toEqual({ delay: { fixedDelayMs: 5000, percentage: 0.1 }, abort: { httpStatus: 418, percentage: 100 } });
    expect(c.mirror).toEqual({ destination: { host: 'shadow.shop.svc.cluster.local' }, percentage: 12.5 });
    expect(c.requestHeaders).toEqual({ set: { 'x-test': 'true' }, add: { 'x-add': 'a' }, remove: ['x-drop'] });
    expect(c.responseHeaders.remove).toEqual(['foo']);
    const off = route('/off');
    expect(off.retries.attempts).toBe(0);
    expect(off.timeoutMs).toBeUndefined();
    expect(off.mirror).toEqual({ destination: { host: 'm1.shop.svc.cluster.local' }, percentage: 100 });
    expect(off.extraMirrors).toEqual([{ destination: { host: 'm2.shop.svc.cluster.local' }, percentage: 5 }]);
  });

  it('dumps a JSON-able description', async () => {
    const { routing } = await compileYaml(
      vs('r', `  hosts: [r]
  http:
  - match: [{uri: {regex: "/x/.*"}, headers: {a: {exact: b}}}]
    route: [{destination: {host: r}}]`),
    );
    const dump = JSON.parse(JSON.stringify(routing.routes.dump()));
    expect(dump.virtualServices[0].hosts).toEqual(['r.shop.svc.cluster.local']);
    expect(dump.virtualServices[0].http[0].match[0].uri).toEqual({ regex: '/x/.*' });
    expect(dump.virtualServices[0].http[0].retries.attempts).toBe(2);
  });
});
