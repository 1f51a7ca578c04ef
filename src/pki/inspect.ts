/** A readable summary of a certificate, and when to warn about its expiry. */
import type { X509Certificate } from 'node:crypto';
import { certificateDetails, type SubjectAltNames } from './parse.js';

const DAY = 86_400_000;

export interface CertificateInfo {
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Whole days until notAfter (negative once expired). */
  readonly daysLeft: number;
  readonly fingerprintSha256: string;
  readonly subjectAltNames: SubjectAltNames;
  /** The URI SAN when it is a SPIFFE ID. */
  readonly spiffeId: string | undefined;
  readonly isCa: boolean;
  readonly pathLength: number | undefined;
  readonly keyUsage: readonly string[];
  readonly extKeyUsage: readonly string[];
  readonly publicKey: string;
}

function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

export function inspectCertificate(certificate: X509Certificate, now: Date = new Date()): CertificateInfo {
  const details = certificateDetails(certificate);
  const notAfter = new Date(certificate.validTo);
  const key = certificate.publicKey;
  const spiffe = details.subjectAltNames.uri.filter((uri) => uri.startsWith('spiffe://'));
  return {
    subject: oneLine(certificate.subject),
    issuer: oneLine(certificate.issuer),
    serial: certificate.serialNumber,
    notBefore: new Date(certificate.validFrom),
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY),
    fingerprintSha256: certificate.fingerprint256,
    subjectAltNames: details.subjectAltNames,
    spiffeId: spiffe.length === 1 ? spiffe[0] : undefined,
    isCa: details.isCa,
    pathLength: details.pathLength,
    keyUsage: details.keyUsage,
    extKeyUsage: details.extKeyUsage,
    publicKey: key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve}` : `${key.asymmetricKeyType?.toUpperCase()} ${key.asymmetricKeyDetails?.modulusLength ?? ''}`.trim(),
  };
}

/**
 * A warning when the certificate has expired, is not yet valid, or is near expiry: less than a
 * third of its lifetime left, or fewer than 30 days left. The 30-day rule applies only to
 * certificates that live longer than 90 days: a 24-hour workload certificate always has fewer
 * than 30 days left and is rotated at half its life, so for it only the one-third rule means trouble.
 */
export function expiryWarning(info: CertificateInfo, now: Date = new Date()): string | undefined {
  const left = info.notAfter.getTime() - now.getTime();
  const lifetime = info.notAfter.getTime() - info.notBefore.getTime();
  if (now < info.notBefore) return `not yet valid: valid from ${info.notBefore.toISOString()}`;
  if (left <= 0) return `expired on ${info.notAfter.toISOString()}`;
  if ((lifetime > 90 * DAY && left < 30 * DAY) || left < lifetime / 3) {
    const hours = left / 3_600_000;
    const remaining = hours < 48 ? `${hours.toFixed(1)} hours` : `${Math.round(left / DAY)} days`;
    return `expires soon: ${remaining} left of ${formatDuration(lifetime)} (on ${info.notAfter.toISOString()})`;
  }
  return undefined;
}

function formatDuration(ms: number): string {
  return ms >= 2 * DAY ? `${Math.round(ms / DAY)} days` : `${(ms / 3_600_000).toFixed(1)} hours`;
}
