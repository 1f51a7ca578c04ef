import { compileYaml } from './helpers.js';
import { UnknownSubsetError } from '../../../src/proxy/routing/index.js';

const dr = (name: string, spec: string, namespace = 'shop') => `---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
${spec}
`;

const REVIEWS = 'reviews.shop.svc.cluster.local';

describe('DestinationRule resolution', () => {
  it('gives Istio defaults when no rule applies', async () => {
    const { routing } = await compileYaml('');
    const resolved = routing.destinationRules.resolve(REVIEWS, undefined, 9080, 'shop');
    expect(resolved.rule).toBeUndefined();
    expect(resolved.subsetLabels).toEqual({});
    // LoadBalancerSettings: UNSPECIFIED "Istio will select an appropriate default" (LEAST_REQUEST; ROUND_ROBIN's
    // doc: "prefer to use LEAST_REQUEST"); ConnectionPoolSettings: "Default 2^32-1", connectTimeout "Default is 10s".
    expect(resolved.trafficPolicy).toEqual({
      loadBalancer: { kind: 'simple', simple: 'LEAST_REQUEST' },
      connectionPool: {
        maxConnections: 2 ** 32 - 1,
        connectTimeoutMs: 10_000,
        http1MaxPendingRequests: 2 ** 32 - 1,
        http2MaxRequests: 2 ** 32 - 1,
        maxRequestsPerConnection: 0,
        idleTimeoutMs: 3_600_000,
      },
    });
    expect(resolved.trafficPolicy.outlierDetection).toBeUndefined();
    expect(() => routing.destinationRules.resolve(REVIEWS, 'v1', 9080, 'shop')).toThrow(UnknownSubsetError);
  });

  it('merges subset over rule group by group, and port-level settings replace their level without inheriting', async () => {
    // Istio (Subset.trafficPolicy): "Settings specified at the subset level will override the corresponding
    // settings specified at the DestinationRule level."
    // Istio (TrafficPolicy.portLevelSettings): "Traffic settings specified at the destination-level will not be
    // inherited when overridden by port-level settings, i.e. default values will be applied to fields omitted
    // in port-level traffic policies."
    const { routing, messages } = await compileYaml(
      dr('reviews', `  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 30ms}
      http: {http2MaxRequests: 1000, maxRequestsPerConnection: 10}
    outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m}
    portLevelSettings:
    - port: {number: 80}
      loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer:
        consistentHash: {httpCookie: {name: user, ttl: 0s}}
      portLevelSettings:
      - port: {number: 9443}
        tls: {mode: SIMPLE, sni: reviews.example.com}`),
    );
    expect(messages).toEqual([]);
    const rules = routing.destinationRules;
    const base = rules.resolve(REVIEWS, undefined, 9080, 'shop');
    expect(base.rule).toBe('shop/reviews');
    expect(base.trafficPolicy.loadBalancer).toEqual({ kind: 'simple', simple: 'ROUND_ROBIN' });
    expect(base.trafficPolicy.connectionPool).toMatchObject({ maxConnections: 100, connectTimeoutMs: 30, http2MaxRequests: 1000, maxRequestsPerConnection: 10, http1MaxPendingRequests: 2 ** 32 - 1 });
    expect(base.trafficPolicy.outlierDetection).toEqual({
      consecutive5xxErrors: 7,
      consecutiveGatewayErrors: 0,
      intervalMs: 300_000,
      baseEjectionTimeMs: 900_000,
      maxEjectionPercent: 10,
      minHealthPercent: 0,
    });
    // Port 80 has its own entry: RANDOM, and the rule's pool and outlier detection are NOT inherited.
    const port80 = rules.resolve(REVIEWS, undefined, 80, 'shop');
    expect(port80.trafficPolicy.loadBalancer).toEqual({ kind: 'simple', simple: 'RANDOM' });
    expect(port80.trafficPolicy.connectionPool.maxConnections).toBe(2 ** 32 - 1);
    expect(port80.trafficPolicy.outlierDetection).toBeUndefined();
    // v1 has no policy: the rule's applies, with its labels.
    const v1 = rules.resolve(REVIEWS, 'v1', 9080, 'shop');
    expect(v1.subsetLabels).toEqual({ version: 'v1' });
    expect(v1.trafficPolicy).toEqual(base.trafficPolicy);
    // v2 overrides only the load balancer; pool and outlier detection come from the rule.
    const v2 = rules.resolve(REVIEWS, 'v2', 9080, 'shop');
    expect(v2.trafficPolicy.loadBalancer).toEqual({ kind: 'consistentHash', key: { kind: 'cookie', name: 'user', ttlMs: 0 }, algorithm: 'ringHash', minimumRingSize: 1024 });
    expect(v2.trafficPolicy.connectionPool.maxConnections).toBe(100);
    expect(v2.trafficPolicy.outlierDetection?.consecutive5xxErrors).toBe(7);
    // v2 on port 80: the rule's port entry (RANDOM), then the subset's load balancer over it.
    expect(rules.resolve(REVIEWS, 'v2', 80, 'shop').trafficPolicy.loadBalancer.kind).toBe('consistentHash');
    // v2 on 9443: the subset's port entry replaces everything, defaults elsewhere.
    const v2tls = rules.resolve(REVIEWS, 'v2', 9443, 'shop');
    expect(v2tls.trafficPolicy.tls).toEqual({ mode: 'SIMPLE', sni: 'reviews.example.com' });
    expect(v2tls.trafficPolicy.loadBalancer).toEqual({ kind: 'simple', simple: 'LEAST_REQUEST' });
    expect(v2tls.trafficPolicy.outlierDetection).toBeUndefined();
    // An undefined subset: the data plane answers 503.
    expect(() => rules.resolve(REVIEWS, 'v9', 9080, 'shop')).toThrow("subset 'v9' of reviews.shop.svc.cluster.local is not defined by DestinationRule shop/reviews");
  });

  it('fills outlier detection defaults when configured and reads every load balancer form', async () => {
    // Istio OutlierDetection: consecutive5xxErrors "defaults to 5", interval "Default is 10s", baseEjectionTime
    // "Default is 30s", maxEjectionPercent "Defaults to 10%", minHealthPercent "The default is 0%".
    const { routing, messages } = await compileYaml(
      dr('a', `  host: a
  trafficPolicy:
    outlierDetection: {}
    loadBalancer: {simple: LEAST_CONN}`) +
        dr('b', `  host: b
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: X-User, maglev: {tableSize: 1031}}}`) +
        dr('c', `  host: c
  trafficPolicy:
    loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 2048}}`) +
        dr('d', `  host: d
  trafficPolicy:
    loadBalancer: {consistentHash: {httpQueryParameterName: session, ringHash: {minimumRingSize: 4096}}}`),
    );
    expect(messages).toEqual([]);
    const tp = (h: string) => routing.destinationRules.resolve(`${h}.shop.svc.cluster.local`, undefined, 80, 'shop').trafficPolicy;
    expect(tp('a').outlierDetection).toEqual({ consecutive5xxErrors: 5, consecutiveGatewayErrors: 0, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10, minHealthPercent: 0 });
    // LEAST_CONN: "Deprecated. Use LEAST_REQUEST instead."
    expect(tp('a').loadBalancer).toEqual({ kind: 'simple', simple: 'LEAST_REQUEST' });
    expect(tp('b').loadBalancer).toEqual({ kind: 'consistentHash', key: { kind: 'header', name: 'x-user' }, algorithm: 'maglev', tableSize: 1031 });
    expect(tp('c').loadBalancer).toEqual({ kind: 'consistentHash', key: { kind: 'sourceIp' }, algorithm: 'ringHash', minimumRingSize: 2048 });
    expect(tp('d').loadBalancer).toEqual({ kind: 'consistentHash', key: { kind: 'queryParameter', name: 'session' }, algorithm: 'ringHash', minimumRingSize: 4096 });
  });

  it('matches wildcard hosts, most specific first, and prefers a rule in the caller namespace', async () => {
    const { routing, messages } = await compileYaml(
      dr('all', `  host: "*"
  trafficPolicy: {loadBalancer: {simple: RANDOM}}`, 'istio-system') +
        dr('foo', `  host: "*.foo.com"
  trafficPolicy: {tls: {mode: SIMPLE}}`) +
        dr('api-foo', `  host: "api.foo.com"
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}`) +
        dr('mine', `  host: reviews.shop.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}
  subsets: [{name: v1, labels: {version: v1}}]`, 'team') +
        dr('theirs', `  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  subsets: [{name: v2, labels: {version: v2}}]`),
    );
    expect(messages).toEqual([]);
    const rules = routing.destinationRules;
    expect(rules.resolve('web.foo.com', undefined, 443, 'shop')).toMatchObject({ rule: 'shop/foo', trafficPolicy: { tls: { mode: 'SIMPLE' } } });
    expect(rules.resolve('api.foo.com', undefined, 443, 'shop').rule).toBe('shop/api-foo');
    expect(rules.resolve('elsewhere.org', undefined, 80, 'shop').rule).toBe('istio-system/all');
    expect(rules.resolve(REVIEWS, undefined, 80, 'team')).toMatchObject({ rule: 'team/mine', trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } } });
    expect(rules.resolve(REVIEWS, undefined, 80, 'shop')).toMatchObject({ rule: 'shop/theirs', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } });
    // Subsets are looked up across the rules for the host.
    expect(rules.resolve(REVIEWS, 'v2', 80, 'team').subsetLabels).toEqual({ version: 'v2' });
    const dump = JSON.parse(JSON.stringify(rules.dump()));
    expect(dump.destinationRules.map((r: { name: string }) => r.name)).toEqual(['istio-system/all', 'shop/foo', 'shop/api-foo', 'team/mine', 'shop/theirs']);
  });
});
