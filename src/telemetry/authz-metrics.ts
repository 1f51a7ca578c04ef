/** Prometheus metrics for the ext_authz servers; each server owns its own Registry. */
import { Counter, Registry, type Metric } from './prom.js';
import { FastCounter, FastHistogram, type HistogramCell } from './fast-metrics.js';

export interface AuthzMetrics {
  readonly registry: Registry;
  /** Counts one decision; `policy` is `ns/name` of the deciding policy, or `none`. */
  observe(allowed: boolean, policy: string, seconds: number, jwtFailure: boolean): void;
}

const LATENCY_BUCKETS: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];

export function createAuthzMetrics(face: 'http' | 'grpc'): AuthzMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ face });
  // Every check touches these two: the fast collectors keep label hashing off the request path.
  const checks = new FastCounter('celgate_authz_checks_total', 'ext_authz checks answered, by decision and deciding policy');
  const latency = new FastHistogram('celgate_authz_check_duration_seconds', 'time from receiving a check to answering it', LATENCY_BUCKETS);
  registry.registerMetric(checks as unknown as Metric);
  registry.registerMetric(latency as unknown as Metric);
  const jwtFailures = new Counter({
    name: 'celgate_authz_jwt_failures_total',
    help: 'checks denied because a presented JWT was invalid',
    registers: [registry],
  });
  const latencyCell: HistogramCell = latency.cell('', () => ({}));
  // The cells by deciding policy, one map per decision: no key building per check.
  const cells = { allow: new Map<string, { value: number }>(), deny: new Map<string, { value: number }>() };
  const cellFor = (decision: 'allow' | 'deny', policy: string): { value: number } => {
    let cell = cells[decision].get(policy);
    if (cell === undefined) {
      cell = checks.cell(`${decision}:${policy}`, () => ({ decision, policy }));
      cells[decision].set(policy, cell);
    }
    return cell;
  };
  return {
    registry,
    observe(allowed, policy, seconds, jwtFailure) {
      cellFor(allowed ? 'allow' : 'deny', policy).value++;
      latencyCell.observe(seconds);
      if (jwtFailure) jwtFailures.inc();
    },
  };
}
