/**
 * consistentHash with RING_HASH (Envoy's ketama ring). Every endpoint owns points on a 32-bit ring in
 * proportion to its weight; a key goes to the first point at or after its hash, and when that
 * endpoint cannot be picked, to the next point's endpoint, and so on around the ring.
 *
 * Ring size: Envoy's `minimumRingSize` (default 1024, at most 8M) is a floor. celgate rounds the points
 * per unit of weight up to a power of two, so the ring holds between minimumRingSize and twice that,
 * and removing one endpoint of N usually leaves the others' points unchanged: only the removed
 * endpoint's keys move (about 1/N of them).
 */
import type { Balancer, Random, SlotFilter } from './balancer.js';
import type { EndpointSlot } from './endpoint-slot.js';
import { hash32 } from './hash.js';

export const DEFAULT_MINIMUM_RING_SIZE = 1024;
export const MAXIMUM_RING_SIZE = 8 * 1024 * 1024;

export class RingHashBalancer implements Balancer {
  readonly #hashes: Uint32Array;
  readonly #owners: Int32Array;

  constructor(
    private readonly slots: readonly EndpointSlot[],
    private readonly random: Random,
    minimumRingSize = DEFAULT_MINIMUM_RING_SIZE,
  ) {
    const minimum = Math.min(Math.max(1, minimumRingSize), MAXIMUM_RING_SIZE);
    let totalWeight = 0;
    for (const slot of slots) totalWeight += slot.weight;
    const perWeight = totalWeight === 0 ? 0 : 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(minimum / totalWeight))));
    // Huge weights would overflow the maximum ring: then points are shares of the maximum (at least one each).
    const scaled = perWeight * totalWeight > MAXIMUM_RING_SIZE;
    const pointsOf = (slot: EndpointSlot): number => (scaled ? Math.max(1, Math.floor((slot.weight * MAXIMUM_RING_SIZE) / totalWeight)) : perWeight * slot.weight);
    let size = 0;
    for (const slot of slots) size += pointsOf(slot);
    // hash * 2^21 + owner stays exact in a double (2^53), so one numeric sort orders both.
    const keys = new Float64Array(size);
    let k = 0;
    slots.forEach((slot, owner) => {
      const points = pointsOf(slot);
      for (let i = 0; i < points; i++) keys[k++] = hash32(`${slot.id}_${i}`) * 2 ** 21 + owner;
    });
    keys.sort();
    this.#hashes = new Uint32Array(size);
    this.#owners = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const key = keys[i]!;
      const hash = Math.floor(key / 2 ** 21);
      this.#hashes[i] = hash;
      this.#owners[i] = key - hash * 2 ** 21;
    }
  }

  get size(): number {
    return this.#hashes.length;
  }

  pick(hashKey: string | undefined, filter: SlotFilter): EndpointSlot | undefined {
    const size = this.#hashes.length;
    if (size === 0) return undefined;
    // Without a key (no header/cookie in the request) Envoy picks at random.
    const h = hashKey === undefined ? Math.floor(this.random() * 2 ** 32) : hash32(hashKey);
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    for (let step = 0; step < size; step++) {
      const slot = this.slots[this.#owners[(lo + step) % size]!]!;
      if (filter.accepts(slot)) return slot;
    }
    return undefined;
  }
}
