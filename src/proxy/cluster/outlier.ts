/**
 * Outlier detection (Istio DestinationRule `outlierDetection`, Envoy's consecutive_5xx and
 * consecutive_gateway_failure detectors), evaluated inline on every reported outcome:
 *
 * - A 5xx response counts toward consecutive 5xx; 502, 503 and 504 also toward consecutive gateway
 *   errors (another 5xx resets the gateway count); any other response resets both.
 * - Connect failures, resets and timeouts are locally originated errors. Envoy's default
 *   (`split_external_local_origin_errors: false`) puts them in the same bucket as the upstream's
 *   errors, mapped to 503/504, so they count as both 5xx and gateway errors.
 * - A count of 0 in the policy disables that detector.
 * - Ejection: allowed when no endpoint is ejected, otherwise only while the ejected share is below
 *   maxEjectionPercent (Envoy: "If no hosts have been ejected, Envoy will eject the host immediately").
 * - Ejection lasts baseEjectionTime × the ejection multiplier, capped at max(300 s, base) as Envoy's
 *   max_ejection_time default. The multiplier grows by one per ejection and, as in Envoy, shrinks by one
 *   for every `interval` the endpoint spends back in service without being ejected (computed lazily).
 * - Return: exactly at ejectedUntil, checked lazily when the cluster next looks (Envoy returns hosts on
 *   its interval sweep, so at most one interval later). No timers.
 */
import type { OutlierDetectionPolicy, UpstreamOutcome } from '../types.js';
import type { EndpointSlot } from './endpoint-slot.js';

const DEFAULT_MAX_EJECTION_TIME_MS = 300_000;

export type Verdict = 'none' | 'consecutive5xx' | 'consecutiveGateway';

/** Updates the slot's counters for one outcome; says which detector fired, if any. */
export function recordOutcome(slot: EndpointSlot, outcome: UpstreamOutcome, policy: OutlierDetectionPolicy): Verdict {
  let is5xx: boolean;
  let isGateway: boolean;
  if (outcome.kind === 'response') {
    is5xx = outcome.status >= 500 && outcome.status <= 599;
    isGateway = outcome.status === 502 || outcome.status === 503 || outcome.status === 504;
  } else {
    is5xx = true;
    isGateway = true;
  }
  if (!is5xx) {
    slot.consecutive5xx = 0;
    slot.consecutiveGateway = 0;
    return 'none';
  }
  slot.consecutive5xx++;
  if (isGateway) slot.consecutiveGateway++;
  else slot.consecutiveGateway = 0;
  if (policy.consecutiveGatewayErrors > 0 && slot.consecutiveGateway >= policy.consecutiveGatewayErrors) return 'consecutiveGateway';
  if (policy.consecutive5xxErrors > 0 && slot.consecutive5xx >= policy.consecutive5xxErrors) return 'consecutive5xx';
  return 'none';
}

/** Whether one more endpoint may be ejected given how many already are. */
export function ejectionAllowed(ejectedNow: number, total: number, maxEjectionPercent: number): boolean {
  if (total === 0) return false;
  if (ejectedNow === 0) return maxEjectionPercent > 0;
  return (ejectedNow * 100) / total < maxEjectionPercent;
}

/** Ejects the slot at `now`; returns when it comes back. */
export function eject(slot: EndpointSlot, policy: OutlierDetectionPolicy, now: number): number {
  if (slot.multiplier > 0 && slot.returnedAt > 0 && policy.intervalMs > 0) {
    const quietIntervals = Math.floor((now - slot.returnedAt) / policy.intervalMs);
    slot.multiplier = Math.max(0, slot.multiplier - quietIntervals);
  }
  slot.multiplier++;
  slot.ejections++;
  const cap = Math.max(DEFAULT_MAX_EJECTION_TIME_MS, policy.baseEjectionTimeMs);
  slot.ejected = true;
  slot.ejectedUntil = now + Math.min(policy.baseEjectionTimeMs * slot.multiplier, cap);
  slot.consecutive5xx = 0;
  slot.consecutiveGateway = 0;
  return slot.ejectedUntil;
}

export function unEject(slot: EndpointSlot, now: number): void {
  slot.ejected = false;
  slot.ejectedUntil = 0;
  slot.returnedAt = now;
  slot.consecutive5xx = 0;
  slot.consecutiveGateway = 0;
}
