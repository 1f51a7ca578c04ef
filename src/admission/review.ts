/**
 * The AdmissionReview wire format (admission.k8s.io/v1 and v1beta1): checking what arrives and
 * building what goes back. The request inside is handed to the engine as is.
 */
import type { AdmissionDecision, AdmissionRequest } from '../engine/admission/types.js';
import { limitWarnings } from './warnings.js';

export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionApiVersion = (typeof ADMISSION_API_VERSIONS)[number];

const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

export interface AdmissionReviewIn {
  readonly apiVersion: AdmissionApiVersion;
  readonly request: AdmissionRequest;
}

export interface AdmissionResponseOut {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
  patch?: string;
  patchType?: 'JSONPatch';
}

export interface AdmissionReviewOut {
  apiVersion: AdmissionApiVersion;
  kind: 'AdmissionReview';
  response: AdmissionResponseOut;
}

/** Bad input: the message names the field that is wrong. */
export class ReviewError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the parts of an AdmissionReview the webhook relies on; throws ReviewError naming the field. */
export function readReview(body: unknown): AdmissionReviewIn {
  if (!isRecord(body)) throw new ReviewError('the body must be a JSON object: an AdmissionReview');
  const { apiVersion, kind, request } = body;
  if (kind !== 'AdmissionReview') throw new ReviewError(`kind must be AdmissionReview, got ${JSON.stringify(kind ?? null)}`);
  if (!ADMISSION_API_VERSIONS.includes(apiVersion as AdmissionApiVersion)) {
    throw new ReviewError(`apiVersion must be one of ${ADMISSION_API_VERSIONS.join(', ')}, got ${JSON.stringify(apiVersion ?? null)}`);
  }
  if (!isRecord(request)) throw new ReviewError('request is required: an AdmissionReview sent to a webhook carries a request');
  if (typeof request.uid !== 'string' || request.uid === '') throw new ReviewError('request.uid is required (a non-empty string)');
  const requestKind = request.kind;
  if (!isRecord(requestKind) || typeof requestKind.kind !== 'string' || typeof requestKind.version !== 'string') {
    throw new ReviewError('request.kind is required: {group, version, kind}');
  }
  if (!isRecord(request.resource) || typeof request.resource.resource !== 'string') {
    throw new ReviewError('request.resource is required: {group, version, resource}');
  }
  if (typeof request.operation !== 'string' || !OPERATIONS.has(request.operation)) {
    throw new ReviewError(`request.operation must be one of CREATE, UPDATE, DELETE, CONNECT, got ${JSON.stringify(request.operation ?? null)}`);
  }
  if (request.userInfo !== undefined && !isRecord(request.userInfo)) throw new ReviewError('request.userInfo must be an object');
  // The engine reads userInfo unconditionally; an absent one is an anonymous caller with no groups.
  const normalized = request.userInfo === undefined ? { ...request, userInfo: {} } : request;
  return { apiVersion: apiVersion as AdmissionApiVersion, request: normalized as unknown as AdmissionRequest };
}

/** The response review for a decision; `withPatch` only on the mutating endpoint. */
export function responseFor(review: AdmissionReviewIn, decision: AdmissionDecision, withPatch: boolean): AdmissionReviewOut {
  const response: AdmissionResponseOut = { uid: review.request.uid, allowed: decision.allowed };
  if (decision.status) {
    const { code, reason, message } = decision.status;
    response.status = { code, reason, message };
  }
  if (decision.warnings.length > 0) response.warnings = limitWarnings(decision.warnings);
  const annotations = decision.auditAnnotations;
  for (const _ in annotations) {
    response.auditAnnotations = { ...annotations };
    break;
  }
  if (withPatch && decision.allowed && decision.patch !== null && decision.patch.length > 0) {
    response.patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
    response.patchType = 'JSONPatch';
  }
  return { apiVersion: review.apiVersion, kind: 'AdmissionReview', response };
}
