import { UpstreamCluster } from '../../../src/proxy/cluster/index.js';
import type { Endpoint, OutlierDetectionPolicy, UpstreamOutcome } from '../../../src/proxy/types.js';
import { Clock, endpoint, policy, seeded, simple } from './helpers.js';

const OD: OutlierDetectionPolicy = {
  consecutive5xxErrors: 3,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 100,
  minHealthPercent: 0,
};

function setup(outlier: Partial<OutlierDetectionPolicy> = {}, n = 4) {
  const clock = new Clock();
  const ejections: string[] = [];
  const endpoints = Array.from({ length: n }, (_, i) => endpoint(i + 1));
  const cluster = new UpstreamCluster({
    name: 'outbound|80||reviews',
    host: 'reviews',
    policy: policy(simple('ROUND_ROBIN'), { ...OD, ...outlier }),
    multiplexed: false,
    endpoints,
    events: { onEjection: (name, e) => ejections.push(`${name} ${e.id}`) },
    now: clock.now,
    random: seeded(1),
  });
  const picked = () => new Set(Array.from({ length: n * 3 }, () => cluster.pick({})?.id ?? 'none'));
  const ejected = () => cluster.states().filter((s) => s.ejected).map((s) => s.endpoint.id);
  const send = (e: Endpoint, ...outcomes: (number | UpstreamOutcome['kind'])[]) => {
    for (const o of outcomes) cluster.report(e, typeof o === 'number' ? { kind: 'response', status: o } : ({ kind: o } as UpstreamOutcome));
  };
  return { clock, cluster, endpoints, ejections, picked, ejected, send };
}

describe('outlier detection', () => {
  test('ejects after N consecutive 5xx; a success in between resets the count', () => {
    // Istio (destination-rule, OutlierDetection.consecutive5xxErrors): "Number of 5xx errors before a host
    // is ejected from the connection pool."
    const { endpoints, ejections, picked, ejected, send } = setup();
    const [a] = endpoints as [Endpoint];
    send(a, 500, 503, 200, 500, 500);
    expect(ejected()).toEqual([]);
    send(a, 500);
    expect(ejected()).toEqual([a.id]);
    expect(ejections).toEqual([`outbound|80||reviews ${a.id}`]);
    expect(picked().has(a.id)).toBe(false);
    expect(picked().size).toBe(3);
  });

  test('returns after baseEjectionTime; the second ejection lasts twice as long', () => {
    // Envoy (outlier detection): "The host is ejected for some number of milliseconds ... equal to the
    // outlier_detection.base_ejection_time_ms value multiplied by the number of times the host has been ejected."
    const { clock, cluster, endpoints, picked, ejected, send } = setup();
    const [a] = endpoints as [Endpoint];
    send(a, 500, 500, 500);
    expect(cluster.states()[0]).toMatchObject({ ejected: true, ejectedUntil: clock.t + 30_000, ejections: 1 });
    clock.advance(29_999);
    expect(picked().has(a.id)).toBe(false);
    clock.advance(1);
    expect(picked().has(a.id)).toBe(true);
    expect(ejected()).toEqual([]);

    send(a, 502, 502, 502);
    expect(cluster.states()[0]).toMatchObject({ ejected: true, ejectedUntil: clock.t + 60_000, ejections: 2 });
    clock.advance(59_999);
    expect(ejected()).toEqual([a.id]);
    clock.advance(1);
    expect(ejected()).toEqual([]);
  });

  test('the multiplier decays by one per interval spent back in service', () => {
    // Envoy (max_ejection_time): ejection time grows with each ejection and, while the host stays
    // healthy, the multiplier is decremented on each interval.
    const { clock, cluster, endpoints, send } = setup();
    const [a] = endpoints as [Endpoint];
    send(a, 500, 500, 500);
    clock.advance(30_000);
    cluster.pick({});
    clock.advance(20_000); // two quiet intervals: back to the base time
    send(a, 500, 500, 500);
    expect(cluster.states()[0]).toMatchObject({ ejectedUntil: clock.t + 30_000, ejections: 2 });
  });

  test('consecutive gateway errors: 502/503/504 and connect failures, resets and timeouts count; another 5xx resets', () => {
    // Envoy (outlier detection): with split_external_local_origin_errors false (the default), "locally
    // originated errors are not distinguished from externally generated (transaction) errors, all end up in
    // the same bucket" — connection failures count like the 5xx/gateway errors they are mapped to.
    const { endpoints, ejected, send } = setup({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 });
    const [a, b, c] = endpoints as [Endpoint, Endpoint, Endpoint];
    send(a, 502, 500, 504);
    expect(ejected()).toEqual([]);
    send(a, 503);
    expect(ejected()).toEqual([a.id]);
    send(b, 'connect-failure', 'timeout');
    expect(ejected()).toEqual([a.id, b.id]);
    send(c, 'reset', 404, 'reset');
    expect(ejected()).toEqual([a.id, b.id]);
  });

  test('local-origin failures also count as 5xx', () => {
    const { endpoints, ejected, send } = setup({ consecutive5xxErrors: 3 });
    const [a] = endpoints as [Endpoint];
    send(a, 'connect-failure', 500, 'reset');
    expect(ejected()).toEqual([a.id]);
  });

  test('maxEjectionPercent caps ejections, but one can always be ejected', () => {
    // Envoy (outlier detection): "If no hosts have been ejected, Envoy will eject the host immediately.
    // Otherwise, it checks to make sure the number of ejected hosts is below the allowed threshold".
    const ten = setup({ consecutive5xxErrors: 1, maxEjectionPercent: 20 }, 10);
    for (const e of ten.endpoints) ten.send(e, 500);
    expect(ten.ejected()).toHaveLength(2);
    expect(ten.ejections).toHaveLength(2);

    const four = setup({ consecutive5xxErrors: 1, maxEjectionPercent: 10 }, 4);
    for (const e of four.endpoints) four.send(e, 500);
    expect(four.ejected()).toHaveLength(1);
  });

  test('minHealthPercent: below it the proxy balances across all endpoints (panic); 0 never panics', () => {
    // Istio (OutlierDetection.minHealthPercent): "When the percentage of healthy hosts in the load
    // balancing pool drops below this threshold, outlier detection will be disabled and the proxy will load
    // balance across all hosts in the pool (healthy and unhealthy). The threshold can be disabled by
    // setting it to 0%."
    const panic = setup({ consecutive5xxErrors: 1, minHealthPercent: 50 });
    const [a, b, c] = panic.endpoints as [Endpoint, Endpoint, Endpoint];
    panic.send(a, 500);
    panic.send(b, 500);
    expect(panic.picked().size).toBe(2); // 2 of 4 available = 50%: not below
    panic.send(c, 500);
    expect(panic.picked().size).toBe(4); // 25% < 50%: everyone, ejected or not

    const never = setup({ consecutive5xxErrors: 1, minHealthPercent: 0 });
    for (const e of never.endpoints) never.send(e, 503);
    expect(never.picked()).toEqual(new Set(['none']));
  });

  test('without outlier detection, reports change nothing', () => {
    const clock = new Clock();
    const cluster = new UpstreamCluster({ name: 'c', host: 'h', policy: policy(simple('ROUND_ROBIN')), multiplexed: false, endpoints: [endpoint(1)], now: clock.now, random: Math.random });
    for (let i = 0; i < 20; i++) cluster.report(endpoint(1), { kind: 'response', status: 503 });
    expect(cluster.states()[0]).toMatchObject({ ejected: false, ejections: 0 });
  });
});
