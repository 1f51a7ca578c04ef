/** RANDOM: a weighted random endpoint. */
import { weightedRandom, type Balancer, type Random, type SlotFilter } from './balancer.js';
import type { EndpointSlot } from './endpoint-slot.js';

export class RandomBalancer implements Balancer {
  constructor(
    private readonly slots: readonly EndpointSlot[],
    private readonly random: Random,
  ) {}

  pick(_hashKey: string | undefined, filter: SlotFilter): EndpointSlot | undefined {
    return weightedRandom(this.slots, filter, this.random);
  }
}
