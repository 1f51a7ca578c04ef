/**
 * Leader election on a coordination.k8s.io/v1 Lease, so that of several celgate replicas only
 * one writes status. @kubernetes/client-node 1.4 ships no leader election, so this is the
 * algorithm of client-go's leaderelection package:
 *
 * - A candidate reads the Lease. It may take it when it does not exist (create; a 409 means
 *   another candidate created it first), when it has no holder, or when the holder has not
 *   renewed for `leaseDurationSeconds`. Expiry is measured on the candidate's own clock from
 *   the moment it last *saw the record change*, not from the record's renewTime, so clock skew
 *   between replicas does not matter.
 * - Taking or renewing is a replace carrying the read resourceVersion: if anyone else wrote
 *   in between, the API server answers 409 and this attempt fails (optimistic concurrency).
 * - Taking over from another holder sets acquireTime and increments leaseTransitions; renewing
 *   only moves renewTime.
 * - The leader renews every `retryPeriodMs`; if it cannot renew for `renewDeadlineMs` it stops
 *   leading (onStoppedLeading) before anyone else may take over (renewDeadline < leaseDuration),
 *   and becomes a candidate again.
 * - stop() releases a held Lease (holder "" and a 1 s duration) so a successor need not wait.
 */
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';

export type LeaseApi = Pick<CoordinationV1Api, 'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'>;

export interface LeaderElectionOptions {
  readonly namespace: string;
  /** The Lease's name, e.g. `celgate`. */
  readonly name: string;
  /** Unique per replica; the pod name is the usual choice (POD_NAME from the downward API). */
  readonly identity: string;
  /** How long a holder's claim lasts without renewal (default 15 s, as client-go). Whole seconds. */
  readonly leaseDurationSeconds?: number;
  /** How long the leader keeps trying to renew before giving up (default 10 s). */
  readonly renewDeadlineMs?: number;
  /** Pause between attempts (default 2 s). */
  readonly retryPeriodMs?: number;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  /** A holder other than this one was observed (identity, or "" when none). */
  readonly onNewLeader?: (identity: string) => void;
  /** Failed attempts (network errors, unexpected statuses); conflicts are normal and not reported. */
  readonly onError?: (error: Error) => void;
  readonly now?: () => number;
}

export interface LeaderElector {
  isLeader(): boolean;
  /** The holder last observed ("" when none). */
  leader(): string;
  /** Releases the Lease when held and stops trying. */
  stop(): Promise<void>;
}

/**
 * Kubernetes MicroTime: RFC 3339 with exactly six fractional digits (metav1.MicroTime parses
 * with RFC3339Micro, so a three-digit JavaScript ISO string would be rejected by the server).
 */
export class MicroTime extends Date {
  override toISOString(): string {
    return `${super.toISOString().slice(0, -1)}000Z`;
  }

  override toJSON(): string {
    return this.toISOString();
  }
}

/** The client answers with the wire string or a Date, depending on its model; both are read. */
function millis(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

export function statusCodeOf(error: unknown): number | undefined {
  const e = error as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } } | undefined;
  for (const value of [e?.code, e?.statusCode, e?.response?.statusCode]) if (typeof value === 'number') return value;
  return undefined;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

function validate(options: LeaderElectionOptions, leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number): void {
  if (!options.identity) throw new Error('leader election: identity must not be empty (use the pod name)');
  if (!options.name || !options.namespace) throw new Error('leader election: the Lease needs a name and a namespace');
  if (!Number.isInteger(options.leaseDurationSeconds ?? 15) || leaseDurationMs <= 0) throw new Error('leader election: leaseDurationSeconds must be a positive whole number');
  // client-go's checks: the leader must give up before anyone may take over.
  if (leaseDurationMs <= renewDeadlineMs) throw new Error('leader election: leaseDuration must be greater than renewDeadline');
  if (renewDeadlineMs <= retryPeriodMs) throw new Error('leader election: renewDeadline must be greater than retryPeriod');
}

export function startLeaderElection(api: LeaseApi, options: LeaderElectionOptions): LeaderElector {
  const leaseDurationSeconds = options.leaseDurationSeconds ?? 15;
  const leaseDurationMs = leaseDurationSeconds * 1000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = options.retryPeriodMs ?? 2_000;
  validate(options, leaseDurationMs, renewDeadlineMs, retryPeriodMs);
  const now = options.now ?? Date.now;
  const { namespace, name, identity } = options;

  let leading = false;
  let stopped = false;
  let observedHolder = '';
  let observedKey = '';
  let observedAt = 0;
  let lastRenew = 0;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> = Promise.resolve();

  const observe = (lease: V1Lease): void => {
    const spec = lease.spec ?? {};
    const key = JSON.stringify([spec.holderIdentity ?? '', millis(spec.renewTime) ?? 0, spec.leaseTransitions ?? 0, lease.metadata?.resourceVersion ?? '']);
    if (key !== observedKey) {
      observedKey = key;
      observedAt = now();
    }
    const holder = spec.holderIdentity ?? '';
    if (holder !== observedHolder) {
      observedHolder = holder;
      if (holder !== identity) options.onNewLeader?.(holder);
    }
  };

  const spec = (previous: V1Lease['spec'] | undefined, t: MicroTime): NonNullable<V1Lease['spec']> => {
    const renewing = previous?.holderIdentity === identity;
    return {
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: t,
      acquireTime: renewing && previous?.acquireTime ? previous.acquireTime : t,
      leaseTransitions: renewing ? (previous?.leaseTransitions ?? 0) : (previous?.leaseTransitions ?? 0) + (previous ? 1 : 0),
    };
  };

  /** One attempt to acquire or renew; true when this replica holds the Lease afterwards. */
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    let current: V1Lease;
    try {
      current = await api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
      try {
        const created = await api.createNamespacedLease({
          namespace,
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: spec(undefined, new MicroTime(now())) },
        });
        observe(created);
        return true;
      } catch (createError) {
        if (statusCodeOf(createError) === 409) return false; // another candidate created it first
        throw createError;
      }
    }
    observe(current);
    const holder = current.spec?.holderIdentity ?? '';
    const duration = (current.spec?.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (holder !== '' && holder !== identity && observedAt + duration > now()) return false;
    try {
      const replaced = await api.replaceNamespacedLease({
        name,
        namespace,
        body: { ...current, metadata: { ...current.metadata, name, namespace }, spec: { ...current.spec, ...spec(current.spec, new MicroTime(now())) } },
      });
      observe(replaced);
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 409) return false; // someone wrote since we read: re-read next time
      throw error;
    }
  };

  const setLeading = (value: boolean): void => {
    if (value === leading) return;
    leading = value;
    try {
      if (value) options.onStartedLeading?.();
      else options.onStoppedLeading?.();
    } catch (error) {
      options.onError?.(asError(error));
    }
  };

  const schedule = (): void => {
    if (stopped) return;
    // client-go jitters the candidate's retry (factor 1.2) so candidates do not collide.
    const delay = leading ? retryPeriodMs : retryPeriodMs * (1 + Math.random() * 0.2);
    timer = setTimeout(tick, delay);
    timer.unref?.();
  };

  const tick = (): void => {
    attempt = (async () => {
      if (stopped) return;
      let held = false;
      try {
        held = await tryAcquireOrRenew();
      } catch (error) {
        options.onError?.(asError(error));
      }
      if (stopped) return;
      if (held) {
        lastRenew = now();
        setLeading(true);
      } else if (leading && now() - lastRenew >= renewDeadlineMs) {
        setLeading(false);
      } else if (leading && observedHolder !== identity) {
        // Someone else holds it now (we saw the record): we are certainly not leading.
        setLeading(false);
      }
      schedule();
    })();
  };

  tick();

  return {
    isLeader: () => leading,
    leader: () => observedHolder,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      await attempt;
      if (!leading) return;
      leading = false;
      try {
        const current = await api.readNamespacedLease({ name, namespace });
        if (current.spec?.holderIdentity === identity) {
          const t = new MicroTime(now());
          await api.replaceNamespacedLease({
            name,
            namespace,
            body: { ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: t, acquireTime: t } },
          });
        }
      } catch (error) {
        options.onError?.(asError(error));
      }
      try {
        options.onStoppedLeading?.();
      } catch (error) {
        options.onError?.(asError(error));
      }
    },
  };
}
