/**
 * Active HTTP health checks: GET `path` on every endpoint each `intervalMs` (undici, through the
 * manager's dispatcher, so mTLS endpoints are checked with the proxy's client certificate). 2xx within
 * `timeoutMs` is a success. `unhealthyThreshold` consecutive failures mark an endpoint unhealthy,
 * `healthyThreshold` consecutive successes mark it healthy again. Endpoints start healthy (Envoy holds
 * new hosts back until their first check; celgate checks at once instead of refusing traffic meanwhile).
 * Over plain HTTP the Host header is the service host (Envoy sends the cluster name unless told
 * otherwise). Over TLS no Host header is set: undici would take it for the SNI and the name to verify,
 * and mesh certificates name SPIFFE identities, not hosts; the server is verified as the manager's `tls`
 * options say (`servername`, `ca`, or a `checkServerIdentity` that checks the SPIFFE ID).
 */
import { isIP } from 'node:net';
import { request, type Dispatcher } from 'undici';
import type { HealthCheckPolicy } from '../types.js';
import type { EndpointSlot } from './endpoint-slot.js';

const USER_AGENT = 'celgate-health-check';

export interface HealthCheckTarget {
  readonly host: string;
  slots(): readonly EndpointSlot[];
  /** Called when an endpoint crosses a threshold. */
  healthChanged(slot: EndpointSlot, healthy: boolean): void;
}

export class HealthChecker {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly policy: HealthCheckPolicy,
    private readonly target: HealthCheckTarget,
    private readonly dispatcher: Dispatcher,
    private readonly scheme: 'http' | 'https',
  ) {}

  start(): void {
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), Math.max(1, this.policy.intervalMs));
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
  }

  #tick(): void {
    if (this.#stopped) return;
    for (const slot of this.target.slots()) {
      if (!slot.checking) void this.#check(slot);
    }
  }

  async #check(slot: EndpointSlot): Promise<void> {
    slot.checking = true;
    const { address, port } = slot.endpoint;
    const authority = isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
    let ok = false;
    try {
      const response = await request(`${this.scheme}://${authority}${this.policy.path}`, {
        method: 'GET',
        dispatcher: this.dispatcher,
        headers: this.scheme === 'http' ? { host: this.target.host, 'user-agent': USER_AGENT } : { 'user-agent': USER_AGENT },
        signal: AbortSignal.timeout(Math.max(1, this.policy.timeoutMs)),
        headersTimeout: this.policy.timeoutMs,
        bodyTimeout: this.policy.timeoutMs,
      });
      await response.body.dump();
      ok = response.statusCode >= 200 && response.statusCode < 300;
    } catch {
      ok = false;
    } finally {
      slot.checking = false;
    }
    if (this.#stopped) return;
    if (ok) {
      slot.checkFailures = 0;
      slot.checkSuccesses++;
      if (!slot.healthy && slot.checkSuccesses >= Math.max(1, this.policy.healthyThreshold)) {
        slot.healthy = true;
        this.target.healthChanged(slot, true);
      }
    } else {
      slot.checkSuccesses = 0;
      slot.checkFailures++;
      if (slot.healthy && slot.checkFailures >= Math.max(1, this.policy.unhealthyThreshold)) {
        slot.healthy = false;
        this.target.healthChanged(slot, false);
      }
    }
  }
}
