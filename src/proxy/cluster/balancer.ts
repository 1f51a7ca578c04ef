/** What every load balancer implements, and the filter it consults. */
import type { EndpointSlot } from './endpoint-slot.js';

/**
 * Decides whether a slot may be picked. One instance per cluster, its fields set before each pick, so
 * that picking allocates no closure.
 */
export class SlotFilter {
  /** Panic mode (too few endpoints available): health and ejection are ignored, as in Envoy. */
  panic = false;
  exclude: ReadonlySet<string> | undefined = undefined;

  accepts(slot: EndpointSlot): boolean {
    if (this.exclude !== undefined && this.exclude.has(slot.endpoint.id)) return false;
    return this.panic || (slot.healthy && !slot.ejected);
  }
}

export interface Balancer {
  /** A slot the filter accepts, or undefined when it accepts none. */
  pick(hashKey: string | undefined, filter: SlotFilter): EndpointSlot | undefined;
}

export type Random = () => number;

/** Weighted random choice among the accepted slots (two passes, no allocation). */
export function weightedRandom(slots: readonly EndpointSlot[], filter: SlotFilter, random: Random): EndpointSlot | undefined {
  let total = 0;
  for (const slot of slots) if (filter.accepts(slot)) total += slot.weight;
  if (total === 0) return undefined;
  let r = random() * total;
  let chosen: EndpointSlot | undefined;
  for (const slot of slots) {
    if (!filter.accepts(slot)) continue;
    chosen = slot;
    r -= slot.weight;
    if (r < 0) break;
  }
  return chosen;
}
