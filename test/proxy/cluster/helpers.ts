/** Shared builders for the cluster tests: endpoints, traffic policies, a seeded random and a clock. */
import { SnapshotRegistry, type RegistrySnapshot } from '../../../src/proxy/discovery/index.js';
import type { Service } from '../../../src/proxy/types.js';
import type { Endpoint, LoadBalancerPolicy, OutlierDetectionPolicy, TrafficPolicy } from '../../../src/proxy/types.js';

export function endpoint(n: number, weight = 1, labels: Record<string, string> = {}): Endpoint {
  const address = `10.0.0.${n}`;
  return { id: `${address}:8080`, address, port: 8080, labels, weight };
}

export const UNLIMITED_POOL = {
  maxConnections: 2 ** 32 - 1,
  connectTimeoutMs: 10_000,
  http1MaxPendingRequests: 2 ** 32 - 1,
  http2MaxRequests: 2 ** 32 - 1,
  maxRequestsPerConnection: 0,
};

export function policy(loadBalancer: LoadBalancerPolicy, outlierDetection?: OutlierDetectionPolicy, connectionPool = UNLIMITED_POOL): TrafficPolicy {
  return { loadBalancer, connectionPool, ...(outlierDetection ? { outlierDetection } : {}) };
}

export const simple = (name: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH'): LoadBalancerPolicy => ({ kind: 'simple', simple: name });

/** Mulberry32: a small seeded PRNG so that distribution tests are reproducible. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Clock {
  constructor(public t = 1_000_000) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function counts(picks: readonly (Endpoint | undefined)[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const e of picks) map.set(e?.id ?? 'none', (map.get(e?.id ?? 'none') ?? 0) + 1);
  return map;
}


/** A registry snapshot of one service with one port. */
export function snapshot(host: string, port: number, endpoints: readonly Endpoint[], protocol = 'HTTP', location: Service['location'] = 'MESH_INTERNAL'): RegistrySnapshot {
  const service: Service = { host, namespace: 'shop', ports: [{ number: port, protocol, name: protocol.toLowerCase() }], location, resolution: 'STATIC' };
  return { services: new Map([[host, service]]), endpoints: new Map([[`${host}|${port}`, endpoints]]) };
}

export function registry(host: string, port: number, endpoints: readonly Endpoint[], protocol = 'HTTP', location: Service['location'] = 'MESH_INTERNAL'): SnapshotRegistry {
  return new SnapshotRegistry(snapshot(host, port, endpoints, protocol, location));
}
