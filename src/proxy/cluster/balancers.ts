/** Builds the balancer a LoadBalancerPolicy names. */
import type { LoadBalancerPolicy } from '../types.js';
import type { Balancer, Random } from './balancer.js';
import type { EndpointSlot } from './endpoint-slot.js';
import { LeastRequestBalancer } from './least-request.js';
import { MaglevBalancer } from './maglev.js';
import { RandomBalancer } from './random.js';
import { RingHashBalancer } from './ring-hash.js';
import { RoundRobinBalancer } from './round-robin.js';

export function buildBalancer(policy: LoadBalancerPolicy, slots: readonly EndpointSlot[], random: Random): Balancer {
  if (policy.kind === 'consistentHash') {
    return policy.algorithm === 'maglev' ? new MaglevBalancer(slots, random, policy.tableSize) : new RingHashBalancer(slots, random, policy.minimumRingSize);
  }
  switch (policy.simple) {
    case 'LEAST_REQUEST':
      return new LeastRequestBalancer(slots, random);
    case 'RANDOM':
      return new RandomBalancer(slots, random);
    case 'ROUND_ROBIN':
    case 'PASSTHROUGH':
      return new RoundRobinBalancer(slots);
  }
}
