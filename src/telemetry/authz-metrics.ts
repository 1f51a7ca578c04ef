/** Prometheus metrics for the ext_authz servers; each server owns its own Registry. */
import { Counter, Histogram, Registry } from 'prom-client';

export interface AuthzMetrics {
  readonly registry: Registry;
  /** Counts one decision; `policy` is `ns/name` of the deciding policy, or `none`. */
  observe(allowed: boolean, policy: string, seconds: number, jwtFailure: boolean): void;
}

export function createAuthzMetrics(face: 'http' | 'grpc'): AuthzMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ face });
  const checks = new Counter({
    name: 'celgate_authz_checks_total',
    help: 'ext_authz checks answered, by decision and deciding policy',
    labelNames: ['decision', 'policy'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'celgate_authz_check_duration_seconds',
    help: 'time from receiving a check to answering it',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
    registers: [registry],
  });
  const jwtFailures = new Counter({
    name: 'celgate_authz_jwt_failures_total',
    help: 'checks denied because a presented JWT was invalid',
    registers: [registry],
  });
  // Label children are cached so the hot path does not hash label sets per request.
  const children = new Map<string, Counter.Internal>();
  return {
    registry,
    observe(allowed, policy, seconds, jwtFailure) {
      const key = (allowed ? 'a:' : 'd:') + policy;
      let child = children.get(key);
      if (!child) {
        child = checks.labels(allowed ? 'allow' : 'deny', policy);
        children.set(key, child);
      }
      child.inc();
      latency.observe(seconds);
      if (jwtFailure) jwtFailures.inc();
    },
  };
}
