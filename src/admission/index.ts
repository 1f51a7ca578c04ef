/** The admission webhook adapter: AdmissionReview over HTTPS ↔ the admission engine. */
export { AdmissionServer, createAdmissionServer, DEFAULT_BODY_LIMIT, type AdmissionServerOptions, type ReloadResult } from './server.js';
export { loadPolicySet, loadClusterObjects, sortIssues, type AdmissionPolicySet, type PolicySources, type LoadOutcome } from './policy-set.js';
export { readReview, responseFor, ReviewError, ADMISSION_API_VERSIONS, type AdmissionReviewIn, type AdmissionReviewOut } from './review.js';
export { limitWarnings, WARNING_ITEM_RUNES, WARNING_TOTAL_RUNES } from './warnings.js';
export { AdmissionMetrics } from './metrics.js';
