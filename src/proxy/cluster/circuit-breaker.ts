/**
 * Connection-pool limits (Istio `connectionPool`, Envoy circuit breakers) as one in-flight limit.
 * Envoy counts connections, pending requests and active requests separately; celgate's upstream
 * client hides connections, so it approximates: for HTTP/1.1 one request occupies one connection, so
 * at most maxConnections run and http1MaxPendingRequests wait — in flight ≤ maxConnections +
 * http1MaxPendingRequests; and Istio's http2MaxRequests ("applicable to both HTTP/1.1 and HTTP2")
 * caps active requests for every protocol. HTTP/2 and gRPC multiplex, so only http2MaxRequests applies.
 */
import type { ConnectionPoolPolicy } from '../types.js';

export interface Lease {
  release(): void;
}

class BreakerLease implements Lease {
  #released = false;
  constructor(private readonly breaker: CircuitBreaker) {}

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.breaker.inFlight--;
  }
}

export function inFlightLimit(policy: ConnectionPoolPolicy, multiplexed: boolean): number {
  const requests = policy.http2MaxRequests > 0 ? policy.http2MaxRequests : Infinity;
  if (multiplexed) return requests;
  const connections = policy.maxConnections > 0 ? policy.maxConnections : Infinity;
  const pending = policy.http1MaxPendingRequests > 0 ? policy.http1MaxPendingRequests : 0;
  return Math.min(connections + pending, requests);
}

export class CircuitBreaker {
  inFlight = 0;

  constructor(
    public limit: number,
    private readonly onOverflow: () => void,
  ) {}

  acquire(): Lease | undefined {
    if (this.inFlight >= this.limit) {
      this.onOverflow();
      return undefined;
    }
    this.inFlight++;
    return new BreakerLease(this);
  }
}
