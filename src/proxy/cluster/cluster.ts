/**
 * One upstream cluster (a host, subset and port): its endpoints with their state, the balancer, the
 * outlier detector and the circuit breaker. Endpoint state survives endpoint-list and policy changes.
 *
 * Panic threshold (Envoy): when fewer than the threshold percent of endpoints are available (healthy
 * and not ejected), Envoy ignores health and balances across all of them. Istio sets the threshold from
 * `outlierDetection.minHealthPercent` (default 0: never panic); without outlier detection Envoy's
 * default of 50% applies.
 */
import type { Cluster, ClusterEvents, Endpoint, EndpointState, PickContext, TrafficPolicy, UpstreamOutcome } from '../types.js';
import { SlotFilter, type Balancer, type Random } from './balancer.js';
import { buildBalancer } from './balancers.js';
import { CircuitBreaker, inFlightLimit, type Lease } from './circuit-breaker.js';
import { EndpointSlot } from './endpoint-slot.js';
import { eject, ejectionAllowed, recordOutcome, unEject } from './outlier.js';

export const DEFAULT_PANIC_THRESHOLD_PERCENT = 50;

export interface ClusterOptions {
  readonly name: string;
  readonly host: string;
  readonly policy: TrafficPolicy;
  /** HTTP/2 or gRPC: only http2MaxRequests limits requests in flight. */
  readonly multiplexed: boolean;
  readonly endpoints: readonly Endpoint[];
  readonly events?: ClusterEvents;
  readonly now: () => number;
  readonly random: Random;
}

export class UpstreamCluster implements Cluster {
  readonly name: string;
  readonly host: string;
  #policy: TrafficPolicy;
  #slots: EndpointSlot[] = [];
  #byId = new Map<string, EndpointSlot>();
  #balancer!: Balancer;
  readonly #breaker: CircuitBreaker;
  readonly #filter = new SlotFilter();
  readonly #events: ClusterEvents | undefined;
  readonly #now: () => number;
  readonly #random: Random;
  /** Slots healthy and not ejected. */
  #available = 0;
  /** The earliest ejectedUntil, so that a pick checks returns only when one is due. */
  #nextReturn = Infinity;

  constructor(options: ClusterOptions) {
    this.name = options.name;
    this.host = options.host;
    this.#policy = options.policy;
    this.#events = options.events;
    this.#now = options.now;
    this.#random = options.random;
    this.#breaker = new CircuitBreaker(inFlightLimit(options.policy.connectionPool, options.multiplexed), () => this.#events?.onOverflow?.(this.name));
    this.setEndpoints(options.endpoints);
  }

  get policy(): TrafficPolicy {
    return this.#policy;
  }

  pick(context: PickContext): Endpoint | undefined {
    const total = this.#slots.length;
    if (total === 0) return undefined;
    const now = this.#now();
    if (now >= this.#nextReturn) this.#returnDue(now);
    const threshold = this.#policy.outlierDetection ? this.#policy.outlierDetection.minHealthPercent : DEFAULT_PANIC_THRESHOLD_PERCENT;
    const filter = this.#filter;
    filter.panic = threshold > 0 && this.#available * 100 < threshold * total;
    filter.exclude = context.exclude !== undefined && context.exclude.size > 0 ? context.exclude : undefined;
    let slot = this.#balancer.pick(context.hashKey, filter);
    if (slot === undefined && filter.exclude !== undefined) {
      // Every candidate was tried already: a retry may go back to one of them.
      filter.exclude = undefined;
      slot = this.#balancer.pick(context.hashKey, filter);
    }
    filter.exclude = undefined;
    return slot?.endpoint;
  }

  acquire(): Lease | undefined {
    return this.#breaker.acquire();
  }

  report(endpoint: Endpoint, outcome: UpstreamOutcome): void {
    const policy = this.#policy.outlierDetection;
    if (policy === undefined) return;
    const slot = this.#byId.get(endpoint.id);
    if (slot === undefined) return;
    const verdict = recordOutcome(slot, outcome, policy);
    if (verdict === 'none') return;
    const now = this.#now();
    if (now >= this.#nextReturn) this.#returnDue(now);
    if (slot.ejected) return;
    let ejected = 0;
    for (const s of this.#slots) if (s.ejected) ejected++;
    if (!ejectionAllowed(ejected, this.#slots.length, policy.maxEjectionPercent)) return;
    const until = eject(slot, policy, now);
    if (until < this.#nextReturn) this.#nextReturn = until;
    this.#recount();
    this.#events?.onEjection?.(this.name, slot.endpoint);
  }

  requestStarted(endpoint: Endpoint): void {
    const slot = this.#byId.get(endpoint.id);
    if (slot !== undefined) slot.activeRequests++;
  }

  requestFinished(endpoint: Endpoint): void {
    const slot = this.#byId.get(endpoint.id);
    if (slot !== undefined && slot.activeRequests > 0) slot.activeRequests--;
  }

  states(): readonly EndpointState[] {
    const now = this.#now();
    if (now >= this.#nextReturn) this.#returnDue(now);
    return this.#slots.map((slot) => slot.state());
  }

  /** Requests in flight through the circuit breaker, and its limit. */
  get inFlight(): { readonly active: number; readonly limit: number } {
    return { active: this.#breaker.inFlight, limit: this.#breaker.limit };
  }

  /** The slots, for health checking. */
  slots(): readonly EndpointSlot[] {
    return this.#slots;
  }

  /** Replaces the endpoint list; endpoints that stay (same id) keep their state. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    const slots: EndpointSlot[] = [];
    const byId = new Map<string, EndpointSlot>();
    for (const endpoint of endpoints) {
      if (byId.has(endpoint.id)) continue;
      const slot = this.#byId.get(endpoint.id) ?? new EndpointSlot(endpoint);
      slot.endpoint = endpoint;
      slots.push(slot);
      byId.set(endpoint.id, slot);
    }
    this.#slots = slots;
    this.#byId = byId;
    this.#balancer = buildBalancer(this.#policy.loadBalancer, slots, this.#random);
    this.#nextReturn = Infinity;
    for (const slot of slots) if (slot.ejected && slot.ejectedUntil < this.#nextReturn) this.#nextReturn = slot.ejectedUntil;
    this.#recount();
  }

  /** A new traffic policy (DestinationRule reload): new balancer and limits, same endpoint state. */
  setPolicy(policy: TrafficPolicy, multiplexed: boolean): void {
    this.#policy = policy;
    this.#breaker.limit = inFlightLimit(policy.connectionPool, multiplexed);
    this.#balancer = buildBalancer(policy.loadBalancer, this.#slots, this.#random);
  }

  /** The service's protocol may have changed with the registry (HTTP/1 vs multiplexed limits). */
  setLimits(multiplexed: boolean): void {
    this.#breaker.limit = inFlightLimit(this.#policy.connectionPool, multiplexed);
  }

  /** Active health checking changed an endpoint. */
  healthChanged(slot: EndpointSlot, healthy: boolean): void {
    if (this.#byId.get(slot.id) !== slot) return;
    this.#recount();
    this.#events?.onHealthChange?.(this.name, slot.endpoint, healthy);
  }

  #returnDue(now: number): void {
    let next = Infinity;
    for (const slot of this.#slots) {
      if (!slot.ejected) continue;
      if (now >= slot.ejectedUntil) unEject(slot, now);
      else if (slot.ejectedUntil < next) next = slot.ejectedUntil;
    }
    this.#nextReturn = next;
    this.#recount();
  }

  #recount(): void {
    let available = 0;
    for (const slot of this.#slots) if (slot.healthy && !slot.ejected) available++;
    this.#available = available;
  }
}
