/** Development serving certificates: a CA and `serving.crt/key` created on first start. */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { issueCertificate } from './issue.js';
import { CertificateFileError, loadCertificatePair, type CertificatePair } from './files.js';
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
  const caFile = caPaths(dir).certFile;
  const paths = pairPaths(dir, SERVING_NAME);
  if (existsSync(paths.certFile) || existsSync(paths.keyFile)) {
    let pair: CertificatePair | undefined;
    let problem: Error | undefined;
    try {
      pair = loadCertificatePair(paths.certFile, paths.keyFile);
    } catch (error) {
      problem = error as Error;
    }
    if (pair) return { ...paths, caFile, generated: false, missingNames: missingNames(pair, dnsNames, ipAddresses) };
    if (!caExists(dir)) throw problem!;
  }
  await mkdir(dir, { recursive: true });
  const ca = caExists(dir) ? loadCa(dir) : await initCa(dir, { trustDomain: names.trustDomain ?? 'cluster.local' });
  const issued = issueCertificate(ca, { profile: 'server', dnsNames, ipAddresses });
  try {
    await writePair(dir, SERVING_NAME, issued);
  } catch (error) {
    throw new CertificateFileError(paths.certFile, `cannot write a new serving certificate: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return { ...paths, caFile, generated: true, missingNames: [] };
}

function missingNames(pair: CertificatePair, dnsNames: readonly string[], ipAddresses: readonly string[]): string[] {
  const sans = certificateDetails(pair.certificate).subjectAltNames;
  const ipKeys = new Set(sans.ip.map((ip) => ipAddressBytes(ip).toString('hex')));
  return [...dnsNames.filter((name) => !sans.dns.includes(name)), ...ipAddresses.filter((ip) => !ipKeys.has(ipAddressBytes(ip).toString('hex')))];
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
