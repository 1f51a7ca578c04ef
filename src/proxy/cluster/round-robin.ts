/**
 * ROUND_ROBIN: smooth weighted round robin. Each pick adds every candidate's weight to its running
 * total and takes the largest, which then gives back the sum; weights 3:1 give a a a b, interleaved
 * rather than in bursts. Also used for PASSTHROUGH: celgate has no original-destination address to
 * pass through to, so it round-robins over the endpoints the registry lists (documented difference).
 */
import type { Balancer, SlotFilter } from './balancer.js';
import type { EndpointSlot } from './endpoint-slot.js';

export class RoundRobinBalancer implements Balancer {
  constructor(private readonly slots: readonly EndpointSlot[]) {
    for (const slot of slots) slot.current = 0;
  }

  pick(_hashKey: string | undefined, filter: SlotFilter): EndpointSlot | undefined {
    let best: EndpointSlot | undefined;
    let total = 0;
    for (const slot of this.slots) {
      if (!filter.accepts(slot)) continue;
      slot.current += slot.weight;
      total += slot.weight;
      if (best === undefined || slot.current > best.current) best = slot;
    }
    if (best) best.current -= total;
    return best;
  }
}
