import { UpstreamCluster } from '../../../src/proxy/cluster/index.js';
import { hash32 } from '../../../src/proxy/cluster/hash.js';
import type { Endpoint, LoadBalancerPolicy, TrafficPolicy } from '../../../src/proxy/types.js';
import { Clock, counts, endpoint, policy, seeded, simple } from './helpers.js';

function cluster(trafficPolicy: TrafficPolicy, endpoints: readonly Endpoint[], random = seeded(42)): UpstreamCluster {
  return new UpstreamCluster({ name: 'outbound|80||svc', host: 'svc', policy: trafficPolicy, multiplexed: false, endpoints, now: new Clock().now, random });
}

function pickMany(c: UpstreamCluster, n: number, context = {}): Map<string, number> {
  const picks: (Endpoint | undefined)[] = [];
  for (let i = 0; i < n; i++) picks.push(c.pick(context));
  return counts(picks);
}

describe('ROUND_ROBIN', () => {
  test('honours endpoint weights exactly over 10,000 picks (smooth weighted round robin)', () => {
    // Envoy (load balancing, weighted round robin): "each available upstream host is selected in round
    // robin order. If weights are assigned to endpoints in a locality, then a weighted round robin schedule is used".
    const c = cluster(policy(simple('ROUND_ROBIN')), [endpoint(1, 1), endpoint(2, 2), endpoint(3, 3)]);
    const n = pickMany(c, 10_000);
    expect(Math.abs(n.get('10.0.0.1:8080')! - 10_000 / 6)).toBeLessThanOrEqual(2);
    expect(Math.abs(n.get('10.0.0.2:8080')! - 20_000 / 6)).toBeLessThanOrEqual(2);
    expect(Math.abs(n.get('10.0.0.3:8080')! - 30_000 / 6)).toBeLessThanOrEqual(2);
  });

  test('interleaves rather than sending bursts, and equal weights alternate', () => {
    const c = cluster(policy(simple('ROUND_ROBIN')), [endpoint(1, 3), endpoint(2, 1)]);
    const sequence = Array.from({ length: 8 }, () => c.pick({})!.address.slice(-1)).join('');
    expect(sequence).toBe('11211121');
    const even = cluster(policy(simple('ROUND_ROBIN')), [endpoint(1), endpoint(2), endpoint(3)]);
    expect(Array.from({ length: 6 }, () => even.pick({})!.address.slice(-1)).join('')).toBe('123123');
  });

  test('PASSTHROUGH round-robins over the listed endpoints (celgate has no original destination)', () => {
    const c = cluster(policy(simple('PASSTHROUGH')), [endpoint(1), endpoint(2)]);
    expect([c.pick({}), c.pick({}), c.pick({})].map((e) => e!.id)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.1:8080']);
  });

  test('excluded endpoints (already tried by a retry) are skipped unless nothing else is left', () => {
    const c = cluster(policy(simple('ROUND_ROBIN')), [endpoint(1), endpoint(2), endpoint(3)]);
    const exclude = new Set(['10.0.0.1:8080', '10.0.0.2:8080']);
    for (let i = 0; i < 5; i++) expect(c.pick({ exclude })!.id).toBe('10.0.0.3:8080');
    const all = new Set(['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']);
    expect(c.pick({ exclude: all })).toBeDefined();
  });

  test('no endpoints: no pick', () => {
    expect(cluster(policy(simple('ROUND_ROBIN')), []).pick({})).toBeUndefined();
  });
});

describe('RANDOM', () => {
  test('honours weights within 2% over 10,000 picks', () => {
    const c = cluster(policy(simple('RANDOM')), [endpoint(1, 1), endpoint(2, 3)], seeded(7));
    const n = pickMany(c, 10_000);
    expect(n.get('10.0.0.1:8080')! / 10_000).toBeCloseTo(0.25, 1);
    expect(Math.abs(n.get('10.0.0.1:8080')! / 10_000 - 0.25)).toBeLessThan(0.02);
  });
});

describe('LEAST_REQUEST', () => {
  test('equal weights: power of two choices prefers the idle endpoint', () => {
    // Envoy (least request): "choice_count: The number of random healthy hosts from which the host with
    // the fewest active requests will be chosen. Defaults to 2". With 3 endpoints busy 0, 5 and 10, the
    // idle one wins whenever drawn: 1 - (2/3)^2 = 5/9; the busiest only when drawn twice: 1/9.
    const [a, b, c3] = [endpoint(1), endpoint(2), endpoint(3)];
    const c = cluster(policy(simple('LEAST_REQUEST')), [a, b, c3], seeded(3));
    for (let i = 0; i < 5; i++) c.requestStarted(b);
    for (let i = 0; i < 10; i++) c.requestStarted(c3);
    const n = pickMany(c, 10_000);
    expect(Math.abs(n.get(a.id)! / 10_000 - 5 / 9)).toBeLessThan(0.03);
    expect(Math.abs(n.get(c3.id)! / 10_000 - 1 / 9)).toBeLessThan(0.02);
    // Once finished, the load evens out.
    for (let i = 0; i < 5; i++) c.requestFinished(b);
    for (let i = 0; i < 10; i++) c.requestFinished(c3);
    const even = pickMany(c, 9_000);
    for (const e of [a, b, c3]) expect(Math.abs(even.get(e.id)! / 9_000 - 1 / 3)).toBeLessThan(0.03);
  });

  test('a steady stream keeps requests spread: no endpoint runs far more than the others', () => {
    const endpoints = [endpoint(1), endpoint(2), endpoint(3), endpoint(4)];
    const c = cluster(policy(simple('LEAST_REQUEST')), endpoints, seeded(11));
    const inFlight: Endpoint[] = [];
    for (let i = 0; i < 2_000; i++) {
      const e = c.pick({})!;
      c.requestStarted(e);
      inFlight.push(e);
      if (inFlight.length > 40) c.requestFinished(inFlight.shift()!);
    }
    const active = c.states().map((s) => s.activeRequests);
    expect(Math.max(...active) - Math.min(...active)).toBeLessThanOrEqual(4);
  });

  test('unequal weights: weight / (active + 1), as Envoy\'s active_request_bias 1.0', () => {
    // Envoy: "weight = load_balancing_weight / (active_requests + 1)^active_request_bias".
    const [a, b] = [endpoint(1, 1), endpoint(2, 3)];
    const c = cluster(policy(simple('LEAST_REQUEST')), [a, b], seeded(5));
    for (let i = 0; i < 5; i++) c.requestStarted(b); // 3 / 6 = 0.5 against 1 / 1
    const n = pickMany(c, 10_000);
    expect(Math.abs(n.get(a.id)! / 10_000 - 2 / 3)).toBeLessThan(0.02);
  });
});

describe.each([
  ['ring hash', { kind: 'consistentHash', key: { kind: 'header', name: 'x-user' }, algorithm: 'ringHash' } as LoadBalancerPolicy],
  ['maglev', { kind: 'consistentHash', key: { kind: 'header', name: 'x-user' }, algorithm: 'maglev' } as LoadBalancerPolicy],
])('consistent hash: %s', (name, lb) => {
  const five = [1, 2, 3, 4, 5].map((n) => endpoint(n));
  const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  const assign = (c: UpstreamCluster) => keys.map((hashKey) => c.pick({ hashKey })!.id);

  test('the same key always goes to the same endpoint, and keys spread evenly', () => {
    const c = cluster(policy(lb), five);
    const first = assign(c);
    expect(assign(c)).toEqual(first);
    expect(assign(cluster(policy(lb), [...five].reverse()))).toEqual(first); // order of the list does not matter
    const n = counts(first.map((id) => ({ id }) as Endpoint));
    for (const e of five) expect(Math.abs(n.get(e.id)! / 10_000 - 0.2)).toBeLessThan(0.05);
  });

  test('removing one of 5 endpoints moves about 1/5 of the keys, only those on the removed endpoint', () => {
    // Envoy (ring hash / maglev): consistent hashing so that "when the set of upstream hosts change, a
    // connection will likely be sent to the same upstream as it was before"; Maglev "aims for minimal
    // disruption rather than an absolute guarantee".
    const c = cluster(policy(lb), five);
    const before = assign(c);
    c.setEndpoints(five.filter((e) => e.id !== '10.0.0.3:8080'));
    const after = assign(c);
    const moved = before.filter((id, i) => id !== after[i]).length / keys.length;
    expect(Math.abs(moved - 0.2)).toBeLessThanOrEqual(0.05);
    const stayedElsewhere = before.filter((id, i) => id !== '10.0.0.3:8080' && id !== after[i]).length;
    // Ring hash: none of the other keys move. Maglev: at most a sliver (its documented "minimal disruption").
    expect(stayedElsewhere).toBeLessThanOrEqual(name === 'ring hash' ? 0 : keys.length * 0.02);
  });

  test('an ejected endpoint\'s keys walk to the next entry, the others stay, and they come back on return', () => {
    const clock = new Clock();
    const c = new UpstreamCluster({
      name: 'outbound|80||svc',
      host: 'svc',
      policy: policy(lb, { consecutive5xxErrors: 1, consecutiveGatewayErrors: 0, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 100, minHealthPercent: 0 }),
      multiplexed: false,
      endpoints: five,
      now: clock.now,
      random: seeded(1),
    });
    const before = assign(c);
    c.report(five[1]!, { kind: 'response', status: 500 });
    const during = assign(c);
    expect(during).not.toContain('10.0.0.2:8080');
    expect(before.filter((id, i) => id !== '10.0.0.2:8080' && id !== during[i])).toEqual([]);
    clock.advance(30_000);
    expect(assign(c)).toEqual(before);
  });

  test('without a hash key, picks spread at random', () => {
    const n = pickMany(cluster(policy(lb), five, seeded(9)), 5_000);
    for (const e of five) expect(n.get(e.id)! / 5_000).toBeGreaterThan(0.12);
  });
});

describe('consistent hash sizes and weights', () => {
  test('ring size honours minimumRingSize and weights shift shares', () => {
    const heavy = [endpoint(1, 1), endpoint(2, 3)];
    const c = cluster(policy({ kind: 'consistentHash', key: { kind: 'sourceIp' }, algorithm: 'ringHash', minimumRingSize: 4096 }), heavy);
    const n = counts(Array.from({ length: 10_000 }, (_, i) => c.pick({ hashKey: `10.1.${i >> 8}.${i & 255}` })));
    expect(Math.abs(n.get('10.0.0.2:8080')! / 10_000 - 0.75)).toBeLessThan(0.05);
    const m = cluster(policy({ kind: 'consistentHash', key: { kind: 'sourceIp' }, algorithm: 'maglev', tableSize: 65537 }), heavy);
    const nm = counts(Array.from({ length: 10_000 }, (_, i) => m.pick({ hashKey: `10.1.${i >> 8}.${i & 255}` })));
    expect(Math.abs(nm.get('10.0.0.2:8080')! / 10_000 - 0.75)).toBeLessThan(0.05);
  });

  test('hash32 spreads nearby keys: each output bit flips for about half of one-character changes', () => {
    const flips = new Array(32).fill(0);
    const n = 4_000;
    for (let i = 0; i < n; i++) {
      const diff = hash32(`10.0.0.${i}:8080_0`) ^ hash32(`10.0.0.${i}:8080_1`);
      for (let b = 0; b < 32; b++) if (diff & (1 << b)) flips[b]++;
    }
    for (const f of flips) expect(Math.abs(f / n - 0.5)).toBeLessThan(0.05);
    expect(hash32('x', 1)).not.toBe(hash32('x', 2));
  });
});

describe('table sizes', () => {
  test('the ring holds between minimumRingSize and twice that; Maglev tables are prime', async () => {
    const { RingHashBalancer } = await import('../../../src/proxy/cluster/ring-hash.js');
    const { MaglevBalancer, nextPrime } = await import('../../../src/proxy/cluster/maglev.js');
    const { EndpointSlot } = await import('../../../src/proxy/cluster/endpoint-slot.js');
    const slots = [1, 2, 3, 4, 5].map((n) => new EndpointSlot(endpoint(n)));
    // Envoy (ring hash): "minimum_ring_size: Minimum hash ring size ... Defaults to 1024 entries".
    expect(new RingHashBalancer(slots, Math.random).size).toBe(1280);
    expect(new RingHashBalancer(slots, Math.random, 3000).size).toBe(5 * 1024);
    expect(new RingHashBalancer(slots.slice(0, 1), Math.random, 1).size).toBe(1);
    // Envoy (maglev): "The table size must be prime number ... If it is not specified, the default is 65537."
    expect(new MaglevBalancer(slots, Math.random).size).toBe(65537);
    expect(new MaglevBalancer(slots, Math.random, 1000).size).toBe(1009);
    expect(nextPrime(65537)).toBe(65537);
  });
});
