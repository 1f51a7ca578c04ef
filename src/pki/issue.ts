/**
 * Building and signing certificates: root and intermediate CAs, server (webhook) certificates,
 * SPIFFE workload certificates and client certificates. See der.ts for why node-forge encodes
 * and node:crypto signs.
 */
import { randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { bitString, boolean, encode, explicit, implicitPrimitive, nullValue, octetString, oid, sequence, set, smallInteger, time, unsignedInteger, utf8String, decode, toBinary, type Asn1 } from './der.js';
import { DEFAULT_KEY_TYPE, generateKeyPair, privateKeyToPem, signatureAlgorithmFor, type KeyType } from './keys.js';
import { checkDnsName, ipAddressBytes, parseSpiffeId } from './names.js';
import { certificateDetails, keyIdentifierFromSpki, OID, type KeyUsage, KEY_USAGE_BITS } from './parse.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Default lifetimes: CA 10 years, workload 24 hours, server (webhook) 1 year, client 1 year. */
export const DEFAULT_LIFETIME_MS = {
  ca: 3650 * DAY,
  workload: 24 * HOUR,
  server: 365 * DAY,
  client: 365 * DAY,
} as const;

/** notBefore is set this far in the past so that peers with a slightly slow clock accept new certificates. */
const CLOCK_SKEW_MS = 5 * 60_000;

export type LeafProfile = 'server' | 'workload' | 'client';

/** A CA that can sign: its certificate and private key. */
export interface CertificateAuthority {
  readonly certificatePem: string;
  readonly certificate: X509Certificate;
  readonly privateKey: KeyObject;
  /** PEM of the CAs between this one and the root (empty for a root), appended to issued chains. */
  readonly chainPem: string;
}

export interface IssuedCertificate {
  readonly certificatePem: string;
  readonly certificate: X509Certificate;
  /** Leaf followed by any intermediates: what a server presents. */
  readonly chainPem: string;
  readonly privateKey: KeyObject;
  readonly privateKeyPem: string;
}

export interface Validity {
  /** Lifetime from now; ignored when notAfter is given. */
  readonly lifetimeMs?: number;
  /** Explicit bounds (tests use them to make expired and not-yet-valid certificates). */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

export interface CaOptions extends Validity {
  readonly commonName?: string;
  readonly organization?: string;
  readonly keyType?: KeyType;
  /** SPIFFE trust domain: the CA then carries the URI SAN `spiffe://TRUST_DOMAIN` (X509-SVID 3.2). */
  readonly trustDomain?: string;
  /** basicConstraints pathLenConstraint; a root defaults to 1 (one intermediate allowed), an intermediate to 0. */
  readonly pathLength?: number;
}

export interface LeafOptions extends Validity {
  readonly profile: LeafProfile;
  readonly commonName?: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** The SPIFFE ID; required for the workload profile (its only URI SAN), optional for client. */
  readonly spiffeId?: string;
  readonly keyType?: KeyType;
  /** Certify this existing key instead of generating one (benchmarks, CSR-like flows). */
  readonly keyPair?: { privateKey: KeyObject; publicKey: KeyObject };
}

export function createRootCa(options: CaOptions = {}): CertificateAuthority {
  const keys = generateKeyPair(options.keyType ?? DEFAULT_KEY_TYPE);
  const subject = distinguishedName(options.commonName ?? 'celgate root CA', options.organization ?? 'celgate');
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
  const keyId = keyIdentifierFromSpki(spki);
  const { notBefore, notAfter } = validity(options, DEFAULT_LIFETIME_MS.ca);
  const der = signCertificate({
    issuer: subject,
    subject,
    spki,
    notBefore,
    notAfter,
    signer: keys.privateKey,
    extensions: caExtensions(options.pathLength ?? 1, keyId, keyId, options.trustDomain),
  });
  return authorityFrom(der, keys.privateKey, '');
}

/** An intermediate CA signed by `parent`; its certificates chain through it to the root. */
export function createIntermediateCa(parent: CertificateAuthority, options: CaOptions = {}): CertificateAuthority {
  const parentDetails = certificateDetails(parent.certificate);
  if (parentDetails.pathLength === 0) throw new Error('the parent CA has pathLenConstraint 0: it cannot sign another CA');
  const keys = generateKeyPair(options.keyType ?? DEFAULT_KEY_TYPE);
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
  const { notBefore, notAfter } = clamp(validity(options, DEFAULT_LIFETIME_MS.ca), parent.certificate);
  const pathLength = options.pathLength ?? Math.max(0, (parentDetails.pathLength ?? 1) - 1);
  const der = signCertificate({
    issuer: parentDetails.subjectName,
    subject: distinguishedName(options.commonName ?? 'celgate intermediate CA', options.organization ?? 'celgate'),
    spki,
    notBefore,
    notAfter,
    signer: parent.privateKey,
    extensions: caExtensions(pathLength, keyIdentifierFromSpki(spki), authorityKeyId(parent), options.trustDomain ?? trustDomainOf(parent)),
  });
  return authorityFrom(der, keys.privateKey, intermediatesFrom(parent));
}

/** Issues a server, workload (SPIFFE) or client certificate signed by `ca`. */
export function issueCertificate(ca: CertificateAuthority, options: LeafOptions): IssuedCertificate {
  const dnsNames = (options.dnsNames ?? []).map(checkDnsName);
  const ipAddresses = options.ipAddresses ?? [];
  const ipBytes = ipAddresses.map(ipAddressBytes);
  const uris: string[] = [];
  if (options.spiffeId !== undefined) {
    // X509-SVID 3.1: a leaf's SPIFFE ID has a non-root path.
    if (parseSpiffeId(options.spiffeId).path === '') throw new Error(`SPIFFE ID '${options.spiffeId}' has no path: a workload ID looks like spiffe://TRUST_DOMAIN/ns/NS/sa/SA`);
    uris.push(options.spiffeId);
  }
  if (options.profile === 'workload' && uris.length === 0) throw new Error('a workload certificate needs a SPIFFE ID (spiffe://TRUST_DOMAIN/ns/NS/sa/SA)');
  if (options.profile === 'server' && dnsNames.length === 0 && ipBytes.length === 0) throw new Error('a server certificate needs at least one DNS name or IP address');
  const keys = options.keyPair ?? generateKeyPair(options.keyType ?? DEFAULT_KEY_TYPE);
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
  const commonName = options.commonName ?? dnsNames[0] ?? spiffeCommonName(options.spiffeId) ?? ipAddresses[0] ?? 'celgate client';
  const { notBefore, notAfter } = clamp(validity(options, DEFAULT_LIFETIME_MS[options.profile]), ca.certificate);
  const extKeyUsage = options.profile === 'server' ? [OID.serverAuth] : options.profile === 'client' ? [OID.clientAuth] : [OID.serverAuth, OID.clientAuth];
  // RSA key exchange (TLS 1.2 RSA kx) needs keyEncipherment; ECDHE only needs digitalSignature.
  const keyUsage: KeyUsage[] = keys.publicKey.asymmetricKeyType === 'rsa' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
  const extensions: Asn1[] = [
    extension(OID.basicConstraints, true, sequence([])),
    extension(OID.keyUsage, true, keyUsageBits(keyUsage)),
    extension(OID.extKeyUsage, false, sequence(extKeyUsage.map(oid))),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifierFromSpki(spki))),
    extension(OID.authorityKeyIdentifier, false, sequence([implicitPrimitive(0, toBinary(authorityKeyId(ca)))])),
  ];
  const altNames = [
    ...dnsNames.map((name) => implicitPrimitive(2, name)),
    ...ipBytes.map((bytes) => implicitPrimitive(7, toBinary(bytes))),
    ...uris.map((uri) => implicitPrimitive(6, toBinary(Buffer.from(uri, 'utf8')))),
  ];
  if (altNames.length > 0) extensions.push(extension(OID.subjectAltName, false, sequence(altNames)));
  const der = signCertificate({
    issuer: certificateDetails(ca.certificate).subjectName,
    subject: distinguishedName(commonName, 'celgate'),
    spki,
    notBefore,
    notAfter,
    signer: ca.privateKey,
    extensions,
  });
  const certificatePem = derToPem(der);
  return {
    certificatePem,
    certificate: new X509Certificate(der),
    chainPem: certificatePem + intermediatesFrom(ca),
    privateKey: keys.privateKey,
    privateKeyPem: privateKeyToPem(keys.privateKey),
  };
}

/** A CA from its PEM files' contents (the first certificate is the CA, the rest its chain). */
export function authorityFromPem(certificatePem: string, privateKey: KeyObject): CertificateAuthority {
  const blocks = certificatePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found');
  const first = normalizePem(blocks[0]!);
  return { ...authorityFrom(new X509Certificate(first).raw, privateKey, blocks.slice(1).map(normalizePem).join('')), certificatePem: first };
}

function normalizePem(block: string): string {
  return block.endsWith('\n') ? block : `${block}\n`;
}

function authorityFrom(der: Buffer, privateKey: KeyObject, chainPem: string): CertificateAuthority {
  const certificate = new X509Certificate(der);
  const details = certificateDetails(certificate);
  if (!details.isCa) throw new Error(`certificate '${certificate.subject.replace(/\n/g, ', ')}' is not a CA (basicConstraints cA is not true)`);
  if (!certificate.checkPrivateKey(privateKey)) throw new Error('the CA private key does not match the CA certificate');
  return { certificatePem: derToPem(der), certificate, privateKey, chainPem };
}

/** The intermediates a peer needs between a certificate signed by `ca` and the root: never the root itself. */
function intermediatesFrom(ca: CertificateAuthority): string {
  return isSelfSigned(ca.certificate) ? '' : ca.certificatePem + ca.chainPem;
}

function isSelfSigned(certificate: X509Certificate): boolean {
  return certificate.subject === certificate.issuer && certificate.verify(certificate.publicKey);
}

function authorityKeyId(ca: CertificateAuthority): Buffer {
  // Use the CA's own SKI when it has one: OpenSSL rejects an issuer whose SKI differs from the AKI.
  return certificateDetails(ca.certificate).subjectKeyIdentifier ?? keyIdentifierFromSpki(ca.certificate.publicKey.export({ type: 'spki', format: 'der' }));
}

function spiffeCommonName(spiffeId: string | undefined): string | undefined {
  if (!spiffeId) return undefined;
  const match = /\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(spiffeId);
  return match ? `${match[2]}.${match[1]}` : spiffeId.slice(spiffeId.lastIndexOf('/') + 1) || undefined;
}

/** The trust domain of a CA that carries a path-less SPIFFE ID. */
export function trustDomainOf(ca: CertificateAuthority): string | undefined {
  const uri = certificateDetails(ca.certificate).subjectAltNames.uri.find((u) => u.startsWith('spiffe://'));
  return uri ? parseSpiffeId(uri).trustDomain : undefined;
}

function caExtensions(pathLength: number, keyId: Buffer, authorityId: Buffer, trustDomain: string | undefined): Asn1[] {
  const extensions = [
    extension(OID.basicConstraints, true, sequence([boolean(true), smallInteger(pathLength)])),
    // X509-SVID 4.3 / appendix A: signing certificates set keyCertSign (and may set cRLSign);
    // digitalSignature is for leaves only.
    extension(OID.keyUsage, true, keyUsageBits(['keyCertSign', 'cRLSign'])),
    extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
    extension(OID.authorityKeyIdentifier, false, sequence([implicitPrimitive(0, toBinary(authorityId))])),
  ];
  if (trustDomain !== undefined) {
    const id = `spiffe://${trustDomain}`;
    if (parseSpiffeId(id).path !== '') throw new Error(`invalid trust domain '${trustDomain}'`);
    extensions.push(extension(OID.subjectAltName, false, sequence([implicitPrimitive(6, toBinary(Buffer.from(id, 'utf8')))])));
  }
  return extensions;
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  return sequence([oid(id), ...(critical ? [boolean(true)] : []), octetString(encode(value))]);
}

/** KeyUsage is a DER named bit list: trailing zero bits are dropped and counted as unused. */
function keyUsageBits(usages: readonly KeyUsage[]): Asn1 {
  const positions = usages.map((usage) => KEY_USAGE_BITS.indexOf(usage));
  const highest = Math.max(...positions);
  const bytes = Buffer.alloc((highest >> 3) + 1);
  for (const bit of positions) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return bitString(bytes, 7 - (highest & 7));
}

function distinguishedName(commonName: string, organization: string): Asn1 {
  // ub-common-name is 64 characters (RFC 5280 appendix A)
  const cn = commonName.length > 64 ? commonName.slice(0, 64) : commonName;
  return sequence([set([sequence([oid('2.5.4.10'), utf8String(organization)])]), set([sequence([oid('2.5.4.3'), utf8String(cn)])])]);
}

function validity(options: Validity, defaultLifetimeMs: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - CLOCK_SKEW_MS);
  const notAfter = options.notAfter ?? new Date(now + (options.lifetimeMs ?? defaultLifetimeMs));
  if (!(notAfter.getTime() > notBefore.getTime())) throw new Error('invalid validity: notAfter must be after notBefore');
  return { notBefore, notAfter };
}

/** A certificate never outlives its issuer. */
function clamp(range: { notBefore: Date; notAfter: Date }, issuer: X509Certificate): { notBefore: Date; notAfter: Date } {
  const issuerEnd = new Date(issuer.validTo);
  return range.notAfter > issuerEnd ? { notBefore: range.notBefore, notAfter: issuerEnd } : range;
}

/** RFC 5280 4.1.2.2: a positive serial of at most 20 octets; 128 random bits, a 0 octet prepended if the top bit is set. */
function randomSerial(): Asn1 {
  let bytes = randomBytes(16);
  while (bytes.every((byte) => byte === 0)) bytes = randomBytes(16);
  return unsignedInteger(bytes);
}

interface ToBeSigned {
  issuer: Asn1;
  subject: Asn1;
  spki: Buffer;
  notBefore: Date;
  notAfter: Date;
  signer: KeyObject;
  extensions: Asn1[];
}

function signCertificate(tbs: ToBeSigned): Buffer {
  const algorithm = signatureAlgorithmFor(tbs.signer);
  const algorithmIdentifier = () => sequence([oid(algorithm.oid), ...(algorithm.withNullParameters ? [nullValue()] : [])]);
  const body = sequence([
    explicit(0, smallInteger(2)), // v3
    randomSerial(),
    algorithmIdentifier(),
    tbs.issuer,
    sequence([time(tbs.notBefore), time(tbs.notAfter)]),
    tbs.subject,
    decode(tbs.spki),
    explicit(3, sequence(tbs.extensions)),
  ]);
  const bodyDer = encode(body);
  // ECDSA signatures come out DER-encoded (Ecdsa-Sig-Value), which is what X.509 carries.
  const signature = sign('sha256', bodyDer, tbs.signer);
  return encode(sequence([decode(bodyDer), algorithmIdentifier(), bitString(signature)]));
}

export function derToPem(der: Buffer): string {
  const base64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}
