import { createClusterManager } from '../../../src/proxy/cluster/index.js';
import type { ResolvedDestination } from '../../../src/proxy/types.js';
import { Clock, endpoint, policy, registry, seeded, simple, snapshot, UNLIMITED_POOL } from './helpers.js';

const HOST = 'reviews.shop.svc.cluster.local';
const OD = { consecutive5xxErrors: 1, consecutiveGatewayErrors: 0, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 100, minHealthPercent: 0 };

function resolved(subsetLabels: Record<string, string> = {}, lb = simple('ROUND_ROBIN'), pool = UNLIMITED_POOL): ResolvedDestination {
  return { rule: 'shop/reviews', subsetLabels, trafficPolicy: policy(lb, OD, pool) };
}

const v1 = [endpoint(1, 1, { version: 'v1' }), endpoint(2, 1, { version: 'v1' })];
const v2 = [endpoint(3, 1, { version: 'v2' })];

describe('createClusterManager', () => {
  test('one cluster per host, subset and port, with Envoy\'s names and the subset\'s endpoints', () => {
    const manager = createClusterManager({ registry: registry(HOST, 9080, [...v1, ...v2]) });
    const all = manager.cluster({ host: HOST, port: 9080 }, resolved());
    const sub = manager.cluster({ host: HOST, subset: 'v1', port: 9080 }, resolved({ version: 'v1' }));
    // Envoy/Istio cluster naming: outbound|<port>|<subset>|<host>.
    expect(all.name).toBe(`outbound|9080||${HOST}`);
    expect(sub.name).toBe(`outbound|9080|v1|${HOST}`);
    expect(all.states().map((s) => s.endpoint.id)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']);
    expect(sub.states().map((s) => s.endpoint.id)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    expect(manager.cluster({ host: HOST, subset: 'v1', port: 9080 }, resolved({ version: 'v1' }))).toBe(sub);
    expect(manager.clusters()).toEqual([all, sub]);
    expect(manager.cluster({ host: 'unknown', port: 80 }, resolved()).pick({})).toBeUndefined();
    manager.close();
  });

  test('registry changes update endpoints; endpoints that stay keep ejections and active requests', () => {
    const clock = new Clock();
    const reg = registry(HOST, 9080, [...v1, ...v2]);
    const manager = createClusterManager({ registry: reg, now: clock.now, random: seeded(1) });
    const cluster = manager.cluster({ host: HOST, port: 9080 }, resolved());
    cluster.report(v1[0]!, { kind: 'response', status: 503 });
    cluster.requestStarted(v1[1]!);
    reg.replace(snapshot(HOST, 9080, [...v1, endpoint(4)]));
    expect(cluster.states().map((s) => [s.endpoint.id, s.ejected, s.activeRequests])).toEqual([
      ['10.0.0.1:8080', true, 0],
      ['10.0.0.2:8080', false, 1],
      ['10.0.0.4:8080', false, 0],
    ]);
    const picks = new Set(Array.from({ length: 6 }, () => cluster.pick({})!.id));
    expect(picks).toEqual(new Set(['10.0.0.2:8080', '10.0.0.4:8080']));
    // An endpoint that leaves and comes back starts fresh (Envoy resets a removed host's state).
    reg.replace(snapshot(HOST, 9080, [v1[1]!]));
    reg.replace(snapshot(HOST, 9080, [...v1]));
    expect(cluster.states()[0]).toMatchObject({ ejected: false, ejections: 0 });
    manager.close();
  });

  test('a changed DestinationRule rebuilds the balancer and limits but keeps endpoint state', () => {
    const clock = new Clock();
    const manager = createClusterManager({ registry: registry(HOST, 9080, [...v1, ...v2]), now: clock.now });
    const first = manager.cluster({ host: HOST, port: 9080 }, resolved());
    first.report(v2[0]!, { kind: 'response', status: 500 });
    const hashing = resolved({}, { kind: 'consistentHash', key: { kind: 'header', name: 'x-user' }, algorithm: 'ringHash' }, { ...UNLIMITED_POOL, maxConnections: 1, http1MaxPendingRequests: 0 });
    const again = manager.cluster({ host: HOST, port: 9080 }, hashing);
    expect(again).toBe(first);
    expect(again.policy.loadBalancer.kind).toBe('consistentHash');
    expect(again.states()[2]).toMatchObject({ ejected: true });
    const target = again.pick({ hashKey: 'alice' });
    for (let i = 0; i < 5; i++) expect(again.pick({ hashKey: 'alice' })).toBe(target);
    expect(again.acquire()).toBeDefined();
    expect(again.acquire()).toBeUndefined();
    // A structurally equal policy object is not a change.
    const same = manager.cluster({ host: HOST, port: 9080 }, JSON.parse(JSON.stringify(hashing)));
    expect(same.states()[2]).toMatchObject({ ejected: true });
    manager.close();
  });
});

describe('circuit breaker', () => {
  test('HTTP/1: in flight ≤ maxConnections + http1MaxPendingRequests; overflow is reported; release is idempotent', () => {
    // Envoy (circuit breaking): max connections, max pending requests and max requests; Istio
    // (ConnectionPoolSettings.HTTPSettings.http2MaxRequests): "Maximum number of active requests to a
    // destination ... applicable to both HTTP/1.1 and HTTP2 traffic".
    const overflows: string[] = [];
    const manager = createClusterManager({ registry: registry(HOST, 9080, v1), events: { onOverflow: (name) => overflows.push(name) } });
    const cluster = manager.cluster({ host: HOST, port: 9080 }, resolved({}, simple('ROUND_ROBIN'), { ...UNLIMITED_POOL, maxConnections: 2, http1MaxPendingRequests: 1 }));
    const leases = [cluster.acquire(), cluster.acquire(), cluster.acquire()];
    expect(leases.every((l) => l !== undefined)).toBe(true);
    expect(cluster.acquire()).toBeUndefined();
    expect(overflows).toEqual([`outbound|9080||${HOST}`]);
    leases[0]!.release();
    leases[0]!.release(); // a second release frees nothing more
    const next = cluster.acquire();
    expect(next).toBeDefined();
    expect(cluster.acquire()).toBeUndefined();
    expect(overflows).toHaveLength(2);
    for (const l of [...leases, next]) l!.release();
    expect(cluster.inFlight).toEqual({ active: 0, limit: 3 });
    manager.close();
  });

  test('http2MaxRequests caps every protocol; HTTP/2 and gRPC ignore the HTTP/1 connection model', () => {
    const pool = { ...UNLIMITED_POOL, maxConnections: 1, http1MaxPendingRequests: 1, http2MaxRequests: 5 };
    const h1 = createClusterManager({ registry: registry(HOST, 9080, v1, 'HTTP') });
    expect(h1.cluster({ host: HOST, port: 9080 }, resolved({}, simple('ROUND_ROBIN'), pool)).inFlight.limit).toBe(2);
    const grpc = createClusterManager({ registry: registry(HOST, 9080, v1, 'GRPC') });
    const cluster = grpc.cluster({ host: HOST, port: 9080 }, resolved({}, simple('ROUND_ROBIN'), pool));
    expect(Array.from({ length: 6 }, () => cluster.acquire()).filter(Boolean)).toHaveLength(5);
    h1.close();
    grpc.close();
  });
});
