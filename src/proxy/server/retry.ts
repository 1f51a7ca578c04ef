/**
 * Which outcomes a VirtualService retry policy retries, with Envoy's meanings (router filter,
 * x-envoy-retry-on / x-envoy-retry-grpc-on):
 * - `5xx`: any 5xx response, and no response at all (connect failure, reset, per-try timeout);
 * - `gateway-error`: 502, 503, 504, which includes a connect failure or a reset (Envoy answers
 *   those with 503) and a per-try timeout (504);
 * - `connect-failure`, `reset`: those failures only (a per-try timeout counts as a reset);
 * - `retriable-4xx`: 409; `retriable-status-codes`: the listed codes (a bare number in
 *   `retryOn` lists itself, as Istio does);
 * - gRPC: `cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`, `unavailable` by
 *   the response's grpc-status header.
 * Envoy retries by this policy whatever the method is (it does not special-case POST); the
 * body it replays is the one it buffered, and so does celgate (see body.ts).
 */
import type { RetryPolicy, UpstreamOutcome } from '../types.js';

const GRPC_CODES: Readonly<Record<string, string>> = {
  cancelled: '1',
  'deadline-exceeded': '4',
  'resource-exhausted': '8',
  internal: '13',
  unavailable: '14',
};

export function retriable(policy: RetryPolicy, outcome: UpstreamOutcome, grpcStatus?: string): boolean {
  const on = policy.retryOn;
  switch (outcome.kind) {
    case 'connect-failure':
      return on.has('connect-failure') || on.has('reset-before-request') || on.has('5xx') || on.has('gateway-error');
    case 'reset':
      return on.has('reset') || on.has('5xx') || on.has('gateway-error');
    case 'timeout':
      return on.has('5xx') || on.has('gateway-error') || on.has('reset');
    case 'response': {
      const status = outcome.status;
      if (status >= 500 && on.has('5xx')) return true;
      if ((status === 502 || status === 503 || status === 504) && on.has('gateway-error')) return true;
      if (status === 409 && on.has('retriable-4xx')) return true;
      if (on.has(String(status))) return true;
      if (on.has('retriable-status-codes') && policy.retriableStatusCodes.has(status)) return true;
      if (grpcStatus !== undefined) {
        for (const name in GRPC_CODES) if (GRPC_CODES[name] === grpcStatus && on.has(name)) return true;
      }
      return false;
    }
  }
}

/** Envoy's default back-off: full jitter over 25 ms × 2^n, capped at 10 × the base (250 ms). */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(25 * 2 ** retry, 250);
  return Math.floor(random() * ceiling);
}
