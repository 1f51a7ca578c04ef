/** The webhook's Prometheus metrics, in a registry of its own so two servers never share counters. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AdmissionDecision } from '../engine/admission/types.js';

export type Verdict = 'allowed' | 'denied' | 'invalid' | 'unavailable' | 'error';

export class AdmissionMetrics {
  readonly registry = new Registry();
  readonly #reviews = new Counter({
    name: 'celgate_admission_reviews_total',
    help: 'AdmissionReviews answered, by verdict and by the policy that denied (empty when none did)',
    labelNames: ['verdict', 'policy'] as const,
    registers: [this.registry],
  });
  readonly #errors = new Counter({
    name: 'celgate_admission_evaluation_errors_total',
    help: 'Policy evaluations that ended in an error (handled by the policy failurePolicy)',
    labelNames: ['policy'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'celgate_admission_review_duration_seconds',
    help: 'Time from a parsed AdmissionReview to its response, by endpoint',
    labelNames: ['endpoint'] as const,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5],
    registers: [this.registry],
  });
  readonly #reloads = new Counter({
    name: 'celgate_admission_policy_reloads_total',
    help: 'Policy set reloads, by outcome (loaded or rejected)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'celgate_' });
  }

  decided(decision: AdmissionDecision, endpoint: string, seconds: number): void {
    let deniedBy = '';
    for (const evaluation of decision.evaluations) {
      if (evaluation.result === 'error') this.#errors.inc({ policy: evaluation.policy });
      if (!decision.allowed && deniedBy === '' && (evaluation.result === 'deny' || evaluation.result === 'error')) deniedBy = evaluation.policy;
    }
    this.#reviews.inc({ verdict: decision.allowed ? 'allowed' : 'denied', policy: deniedBy });
    this.#duration.observe({ endpoint }, seconds);
  }

  rejected(verdict: Exclude<Verdict, 'allowed' | 'denied'>): void {
    this.#reviews.inc({ verdict, policy: '' });
  }

  reloaded(outcome: 'loaded' | 'rejected'): void {
    this.#reloads.inc({ outcome });
  }
}
