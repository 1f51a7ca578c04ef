/** Development serving certificates: a CA and `serving.crt/key` created on first start. */
import { existsSync } from 'node:fs';
import { issueCertificate } from './issue.js';
import { CertificateFileError, loadCertificatePair, withDirectoryLock, type CertificatePair } from './files.js';
import { certificateDetails } from './parse.js';
import { caExists, caPaths, initCa, loadCa, pairPaths, writePair } from './store.js';
import { checkDnsName, ipAddressBytes } from './names.js';

export interface ServingNames {
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** Trust domain of a CA created here (default cluster.local). */
  readonly trustDomain?: string;
}

export interface ServingCertificates {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** True when this call wrote a new serving certificate (and possibly a new CA). */
  readonly generated: boolean;
  /** Requested names that a kept, existing certificate does not cover (the caller may warn). */
  readonly missingNames: readonly string[];
}

export const SERVING_NAME = 'serving';

/**
 * Makes sure `dir` holds a serving certificate (serving.crt/key) and the CA that signed it
 * (ca.crt/ca.key). A missing pair is issued for localhost, 127.0.0.1, ::1 and the given names,
 * creating the CA first when it is missing too.
 *
 * An existing pair that loads and is currently valid is always kept, never rewritten: in a cluster
 * the directory is a read-only Secret holding the certificate `celgate certs webhook` issued for the
 * Service, which need not name this pod's host. Names the kept certificate lacks are reported in
 * `missingNames`. An expired or broken pair is reissued when the CA key is at hand; otherwise
 * the error names the file.
 */
export async function ensureServingCertificates(dir: string, names: ServingNames = {}): Promise<ServingCertificates> {
  const dnsNames = unique(['localhost', ...(names.dnsNames ?? []).map(checkDnsName)]);
  const ipAddresses = unique(['127.0.0.1', '::1', ...(names.ipAddresses ?? [])]);
  ipAddresses.forEach(ipAddressBytes); // validates
  const kept = keptPair(dir, dnsNames, ipAddresses);
  if (kept) return kept;
  // Generation holds the directory lock and looks again: a process that started alongside this one
  // may have written everything meanwhile.
  return withDirectoryLock(dir, async () => {
    const keptMeanwhile = keptPair(dir, dnsNames, ipAddresses);
    if (keptMeanwhile) return keptMeanwhile;
    const ca = caExists(dir) ? loadCa(dir) : await initCa(dir, { trustDomain: names.trustDomain ?? 'cluster.local' });
    const issued = issueCertificate(ca, { profile: 'server', dnsNames, ipAddresses });
    const paths = pairPaths(dir, SERVING_NAME);
    try {
      await writePair(dir, SERVING_NAME, issued);
    } catch (error) {
      throw new CertificateFileError(paths.certFile, `cannot write a new serving certificate: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    return { ...paths, caFile: caPaths(dir).certFile, generated: true, missingNames: [] };
  });
}

/** The existing serving pair when it loads; undefined when it must be (re)issued; throws when it cannot be. */
function keptPair(dir: string, dnsNames: readonly string[], ipAddresses: readonly string[]): ServingCertificates | undefined {
  const paths = pairPaths(dir, SERVING_NAME);
  if (!existsSync(paths.certFile) && !existsSync(paths.keyFile)) return undefined;
  let pair: CertificatePair;
  try {
    pair = loadCertificatePair(paths.certFile, paths.keyFile);
  } catch (error) {
    if (caExists(dir)) return undefined;
    throw error;
  }
  return { ...paths, caFile: caPaths(dir).certFile, generated: false, missingNames: missingNames(pair, dnsNames, ipAddresses) };
}

function missingNames(pair: CertificatePair, dnsNames: readonly string[], ipAddresses: readonly string[]): string[] {
  const sans = certificateDetails(pair.certificate).subjectAltNames;
  const ipKeys = new Set(sans.ip.map((ip) => ipAddressBytes(ip).toString('hex')));
  return [...dnsNames.filter((name) => !sans.dns.includes(name)), ...ipAddresses.filter((ip) => !ipKeys.has(ipAddressBytes(ip).toString('hex')))];
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
