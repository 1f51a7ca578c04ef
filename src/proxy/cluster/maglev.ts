/**
 * consistentHash with MAGLEV (Eisenbud et al., as in Envoy). Each endpoint has a permutation of the
 * table's positions (offset and skip from two hashes of its id); endpoints take turns claiming their
 * next free preferred position until the table is full, weights deciding how often each gets a turn.
 * A key goes to `table[hash % size]`; when that endpoint cannot be picked, to the next entry's.
 * Envoy: the table size must be prime (default 65537); a non-prime size is raised to the next prime.
 * Maglev aims for minimal disruption, not none: a few keys of remaining endpoints may move too.
 */
import type { Balancer, Random, SlotFilter } from './balancer.js';
import type { EndpointSlot } from './endpoint-slot.js';
import { hash32 } from './hash.js';

export const DEFAULT_TABLE_SIZE = 65537;
export const MAXIMUM_TABLE_SIZE = 5000011;

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export function nextPrime(n: number): number {
  let p = Math.max(2, Math.floor(n));
  while (!isPrime(p)) p++;
  return p;
}

export class MaglevBalancer implements Balancer {
  readonly #table: Int32Array;

  constructor(
    private readonly slots: readonly EndpointSlot[],
    private readonly random: Random,
    tableSize = DEFAULT_TABLE_SIZE,
  ) {
    const size = nextPrime(Math.min(Math.max(2, tableSize), MAXIMUM_TABLE_SIZE));
    const table = new Int32Array(size).fill(-1);
    this.#table = table;
    const n = slots.length;
    if (n === 0) return;
    // Fill in id order so that every proxy builds the same table from the same endpoints.
    const order = slots.map((_, i) => i).sort((a, b) => (slots[a]!.id < slots[b]!.id ? -1 : slots[a]!.id > slots[b]!.id ? 1 : 0));
    const offsets = new Float64Array(n);
    const skips = new Float64Array(n);
    const next = new Float64Array(n);
    const credit = new Float64Array(n);
    let maxWeight = 0;
    for (let k = 0; k < n; k++) {
      const id = slots[order[k]!]!.id;
      offsets[k] = hash32(id, 0x9e3779b9) % size;
      skips[k] = (hash32(id, 0x7f4a7c15) % (size - 1)) + 1;
      maxWeight = Math.max(maxWeight, slots[order[k]!]!.weight);
    }
    let filled = 0;
    while (filled < size) {
      for (let k = 0; k < n && filled < size; k++) {
        credit[k] += slots[order[k]!]!.weight / maxWeight;
        while (credit[k]! >= 1 && filled < size) {
          credit[k] -= 1;
          let c = (offsets[k]! + next[k]! * skips[k]!) % size;
          while (table[c] !== -1) {
            next[k] += 1;
            c = (offsets[k]! + next[k]! * skips[k]!) % size;
          }
          table[c] = order[k]!;
          next[k] += 1;
          filled++;
        }
      }
    }
  }

  get size(): number {
    return this.#table.length;
  }

  pick(hashKey: string | undefined, filter: SlotFilter): EndpointSlot | undefined {
    if (this.slots.length === 0) return undefined;
    const size = this.#table.length;
    const start = hashKey === undefined ? Math.floor(this.random() * size) : hash32(hashKey) % size;
    for (let step = 0; step < size; step++) {
      const slot = this.slots[this.#table[(start + step) % size]!]!;
      if (filter.accepts(slot)) return slot;
    }
    return undefined;
  }
}
