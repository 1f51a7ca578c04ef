export { createDecisionLog, decidingRule, DEFAULT_REDACTED_HEADERS, type DecisionLog, type DecisionLogOptions, type DecisionRecord } from './decision-log.js';
export { createAuthzMetrics, type AuthzMetrics } from './authz-metrics.js';
