/**
 * LEAST_REQUEST as Envoy does it. Equal weights: power of two choices — two random available
 * endpoints, the one with fewer active requests wins. Unequal weights: Envoy schedules by the dynamic
 * weight `weight / (active + 1)^bias` (bias 1.0 by default); celgate draws weighted-randomly with
 * those same weights (same expected shares, without Envoy's EDF scheduler state).
 */
import type { Balancer, Random, SlotFilter } from './balancer.js';
import type { EndpointSlot } from './endpoint-slot.js';

/** Random draws before falling back to a scan when most endpoints are unavailable. */
const DRAWS = 8;

export class LeastRequestBalancer implements Balancer {
  readonly #equalWeights: boolean;

  constructor(
    private readonly slots: readonly EndpointSlot[],
    private readonly random: Random,
  ) {
    this.#equalWeights = slots.every((s) => s.weight === slots[0]!.weight);
  }

  pick(_hashKey: string | undefined, filter: SlotFilter): EndpointSlot | undefined {
    return this.#equalWeights ? this.#twoChoices(filter) : this.#dynamicWeights(filter);
  }

  #twoChoices(filter: SlotFilter): EndpointSlot | undefined {
    const first = this.#randomAvailable(filter);
    if (!first) return undefined;
    const second = this.#randomAvailable(filter);
    return second && second.activeRequests < first.activeRequests ? second : first;
  }

  #randomAvailable(filter: SlotFilter): EndpointSlot | undefined {
    const n = this.slots.length;
    for (let i = 0; i < DRAWS; i++) {
      const slot = this.slots[Math.floor(this.random() * n)]!;
      if (filter.accepts(slot)) return slot;
    }
    // Few available: pick uniformly among them by counting.
    let count = 0;
    for (const slot of this.slots) if (filter.accepts(slot)) count++;
    if (count === 0) return undefined;
    let k = Math.floor(this.random() * count);
    for (const slot of this.slots) if (filter.accepts(slot) && k-- === 0) return slot;
    return undefined;
  }

  #dynamicWeights(filter: SlotFilter): EndpointSlot | undefined {
    let total = 0;
    for (const slot of this.slots) if (filter.accepts(slot)) total += slot.weight / (slot.activeRequests + 1);
    if (total === 0) return undefined;
    let r = this.random() * total;
    let chosen: EndpointSlot | undefined;
    for (const slot of this.slots) {
      if (!filter.accepts(slot)) continue;
      chosen = slot;
      r -= slot.weight / (slot.activeRequests + 1);
      if (r < 0) break;
    }
    return chosen;
  }
}
