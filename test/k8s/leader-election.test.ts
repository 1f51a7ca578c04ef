/**
 * Lease-based leader election against the loopback API server with real client-node clients.
 * The fake server answers a replace carrying a stale resourceVersion with 409 Conflict, which is
 * the optimistic concurrency the algorithm relies on.
 */
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { MicroTime, startLeaderElection, type LeaderElector, type LeaseApi } from '../../src/k8s/leader-election.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

const FAST = { leaseDurationSeconds: 1, renewDeadlineMs: 600, retryPeriodMs: 100 } as const;

function leaseClient(server: FakeApiServer): CoordinationV1Api {
  const config = new KubeConfig();
  config.loadFromString(server.kubeconfig());
  return config.makeApiClient(CoordinationV1Api);
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const lease = (server: FakeApiServer, name: string) => server.get('coordination.k8s.io/v1', 'Lease', name, 'celgate') as { spec: Record<string, any>; metadata: Record<string, any> };

describe('leader election (coordination.k8s.io/v1 Lease)', () => {
  let server: FakeApiServer;
  const electors: LeaderElector[] = [];
  beforeAll(async () => {
    server = await startFakeApiServer();
    server.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'celgate' } });
  });
  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop()));
  });
  afterAll(async () => {
    await server.close();
  });

  test('exactly one of two replicas leads; the Lease names it with a six-digit MicroTime', async () => {
    const events: string[] = [];
    const start = (identity: string) => {
      const elector = startLeaderElection(leaseClient(server), {
        namespace: 'celgate',
        name: 'one-leader',
        identity,
        ...FAST,
        onStartedLeading: () => events.push(`${identity} started`),
        onStoppedLeading: () => events.push(`${identity} stopped`),
      });
      electors.push(elector);
      return elector;
    };
    const a = start('pod-a');
    const b = start('pod-b');
    await until(() => a.isLeader() || b.isLeader());
    await new Promise((resolve) => setTimeout(resolve, 400)); // several renew periods
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    const leader = a.isLeader() ? 'pod-a' : 'pod-b';
    expect(events).toEqual([`${leader} started`]);
    const stored = lease(server, 'one-leader');
    expect(stored.spec.holderIdentity).toBe(leader);
    expect(stored.spec.leaseDurationSeconds).toBe(1);
    expect(stored.spec.leaseTransitions).toBe(0);
    // metav1.MicroTime is RFC 3339 with microseconds (RFC3339Micro).
    expect(stored.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(a.leader()).toBe(leader);
    expect(b.leader()).toBe(leader);
  });

  test('the leader renews; stop() releases the Lease and the other replica takes over at once', async () => {
    const a = startLeaderElection(leaseClient(server), { namespace: 'celgate', name: 'handover', identity: 'pod-a', ...FAST });
    electors.push(a);
    await until(() => a.isLeader());
    const firstRenew = lease(server, 'handover').spec.renewTime as string;
    await until(() => lease(server, 'handover').spec.renewTime !== firstRenew);
    expect(lease(server, 'handover').spec.acquireTime).toBe(firstRenew); // renewing keeps acquireTime

    let bStarted = 0;
    const b = startLeaderElection(leaseClient(server), { namespace: 'celgate', name: 'handover', identity: 'pod-b', ...FAST, onStartedLeading: () => (bStarted = Date.now()) });
    electors.push(b);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(b.isLeader()).toBe(false);

    const released = Date.now();
    await a.stop();
    expect(a.isLeader()).toBe(false);
    await until(() => b.isLeader());
    // Released (holder ""), so b need not wait out the 1 s lease.
    expect(bStarted - released).toBeLessThan(900);
    const stored = lease(server, 'handover');
    expect(stored.spec.holderIdentity).toBe('pod-b');
    expect(stored.spec.leaseTransitions).toBe(1);
  });

  test('a leader cut off from the API server stops leading; another takes over after the lease expires', async () => {
    const real = leaseClient(server);
    let partitioned = false;
    const cutOff = (call: () => Promise<any>) => (partitioned ? Promise.reject(new Error('connect ETIMEDOUT')) : call());
    const flaky: LeaseApi = {
      readNamespacedLease: (p: any) => cutOff(() => real.readNamespacedLease(p)),
      createNamespacedLease: (p: any) => cutOff(() => real.createNamespacedLease(p)),
      replaceNamespacedLease: (p: any) => cutOff(() => real.replaceNamespacedLease(p)),
    } as LeaseApi;
    const errors: string[] = [];
    let aStopped = 0;
    const a = startLeaderElection(flaky, { namespace: 'celgate', name: 'partition', identity: 'pod-a', ...FAST, onStoppedLeading: () => (aStopped = Date.now()), onError: (e) => errors.push(e.message) });
    electors.push(a);
    await until(() => a.isLeader());
    let bStarted = 0;
    const b = startLeaderElection(leaseClient(server), { namespace: 'celgate', name: 'partition', identity: 'pod-b', ...FAST, onStartedLeading: () => (bStarted = Date.now()) });
    electors.push(b);

    partitioned = true;
    await until(() => b.isLeader(), 5_000);
    expect(aStopped).toBeGreaterThan(0);
    // client-go's guarantee: the old leader gives up (renewDeadline) before the lease can expire for others.
    expect(aStopped).toBeLessThanOrEqual(bStarted);
    expect(a.isLeader()).toBe(false);
    expect(errors.some((m) => m.includes('ETIMEDOUT'))).toBe(true);
    expect(lease(server, 'partition').spec.holderIdentity).toBe('pod-b');
  });

  test('concurrent candidates on a missing Lease: one create wins, the other gets 409 and follows', async () => {
    const started: string[] = [];
    for (const identity of ['pod-a', 'pod-b', 'pod-c']) {
      electors.push(startLeaderElection(leaseClient(server), { namespace: 'celgate', name: 'race', identity, ...FAST, onStartedLeading: () => started.push(identity) }));
    }
    await until(() => started.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(started).toHaveLength(1);
    expect(electors.filter((e) => e.isLeader())).toHaveLength(1);
    expect(lease(server, 'race').spec.holderIdentity).toBe(started[0]);
  });

  test('bad settings are refused with a clear message', () => {
    const api = leaseClient(server);
    expect(() => startLeaderElection(api, { namespace: 'celgate', name: 'x', identity: '' })).toThrow(/identity must not be empty/);
    expect(() => startLeaderElection(api, { namespace: 'celgate', name: 'x', identity: 'a', leaseDurationSeconds: 1, renewDeadlineMs: 1000 })).toThrow(/leaseDuration must be greater than renewDeadline/);
    expect(() => startLeaderElection(api, { namespace: 'celgate', name: 'x', identity: 'a', renewDeadlineMs: 100, retryPeriodMs: 100 })).toThrow(/renewDeadline must be greater than retryPeriod/);
  });

  test('MicroTime serialises with microseconds', () => {
    expect(JSON.stringify({ t: new MicroTime(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) })).toBe('{"t":"2024-01-02T03:04:05.678000Z"}');
  });
});
