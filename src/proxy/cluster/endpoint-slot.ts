/** The mutable state the cluster keeps per endpoint; it survives endpoint-list and policy changes. */
import type { Endpoint, EndpointState } from '../types.js';

export class EndpointSlot {
  /** Active health: false after `unhealthyThreshold` failed checks. */
  healthy = true;
  ejected = false;
  ejectedUntil = 0;
  /** Times ejected since the endpoint joined the cluster (admin view). */
  ejections = 0;
  /** Envoy's ejection multiplier: grows with each ejection, decays while the endpoint behaves. */
  multiplier = 0;
  /** When the endpoint last came back from an ejection (for the multiplier's decay). */
  returnedAt = 0;
  activeRequests = 0;
  consecutive5xx = 0;
  consecutiveGateway = 0;
  /** Smooth weighted round robin's running weight. */
  current = 0;
  // Active health check counters.
  checkSuccesses = 0;
  checkFailures = 0;
  checking = false;

  constructor(public endpoint: Endpoint) {}

  get id(): string {
    return this.endpoint.id;
  }

  get weight(): number {
    return this.endpoint.weight > 0 ? this.endpoint.weight : 1;
  }

  state(): EndpointState {
    return {
      endpoint: this.endpoint,
      healthy: this.healthy,
      ejected: this.ejected,
      ...(this.ejected ? { ejectedUntil: this.ejectedUntil } : {}),
      ejections: this.ejections,
      activeRequests: this.activeRequests,
    };
  }
}
