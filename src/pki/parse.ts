/**
 * Reading certificates. node:crypto's X509Certificate does the parsing, validity and signature
 * checks; the extension details it does not expose (SKI, key usage bits, the SAN list as typed
 * values) are read from the DER with node-forge's ASN.1 decoder.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { children, Class, decode, readOid, Type, type Asn1, fromBinary } from './der.js';
import { ipAddressFromBytes } from './names.js';

export const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly ip: readonly string[];
  readonly uri: readonly string[];
}

export interface Extension {
  readonly critical: boolean;
  readonly value: Asn1;
}

export interface CertificateDetails {
  readonly x509: X509Certificate;
  /** The subject Name exactly as encoded, reused as the issuer of certificates this CA signs. */
  readonly subjectName: Asn1;
  readonly extensions: ReadonlyMap<string, Extension>;
  readonly subjectAltNames: SubjectAltNames;
  readonly subjectKeyIdentifier: Buffer | undefined;
  readonly authorityKeyIdentifier: Buffer | undefined;
  readonly isCa: boolean;
  readonly pathLength: number | undefined;
  readonly keyUsage: readonly KeyUsage[];
  readonly extKeyUsage: readonly string[];
}

const detailsCache = new WeakMap<X509Certificate, CertificateDetails>();

/** Details of a certificate; cached per X509Certificate object (a CA's are read on every issue). */
export function certificateDetails(x509: X509Certificate): CertificateDetails {
  let details = detailsCache.get(x509);
  if (!details) {
    details = readDetails(x509);
    detailsCache.set(x509, details);
  }
  return details;
}

function readDetails(x509: X509Certificate): CertificateDetails {
  const certificate = decode(x509.raw);
  const tbs = children(certificate)[0]!;
  const fields = children(tbs);
  // version is [0] EXPLICIT and absent in v1 certificates
  const offset = fields[0]?.tagClass === Class.CONTEXT_SPECIFIC && fields[0].type === 0 ? 1 : 0;
  const subjectName = fields[offset + 4]!;
  const extensions = new Map<string, Extension>();
  const container = fields.find((field) => field.tagClass === Class.CONTEXT_SPECIFIC && field.type === 3);
  for (const extension of container ? children(children(container)[0]!) : []) {
    const parts = children(extension);
    const critical = parts.length === 3 && (parts[1]!.value as string) !== '\x00';
    const valueOctets = parts[parts.length - 1]!.value as string;
    extensions.set(readOid(parts[0]!), { critical, value: decode(fromBinary(valueOctets)) });
  }
  const basic = extensions.get(OID.basicConstraints)?.value;
  const basicParts = basic ? children(basic) : [];
  const isCa = basicParts[0]?.type === Type.BOOLEAN && (basicParts[0].value as string) !== '\x00';
  const pathNode = basicParts.find((part) => part.type === Type.INTEGER);
  return {
    x509,
    subjectName,
    extensions,
    subjectAltNames: readSubjectAltNames(extensions.get(OID.subjectAltName)?.value),
    subjectKeyIdentifier: (() => {
      const ski = extensions.get(OID.subjectKeyIdentifier)?.value;
      return ski ? fromBinary(ski.value as string) : undefined;
    })(),
    authorityKeyIdentifier: (() => {
      const aki = extensions.get(OID.authorityKeyIdentifier)?.value;
      const keyId = aki ? children(aki).find((part) => part.tagClass === Class.CONTEXT_SPECIFIC && part.type === 0) : undefined;
      return keyId ? fromBinary(keyId.value as string) : undefined;
    })(),
    isCa,
    pathLength: pathNode ? fromBinary(pathNode.value as string).readUIntBE(0, (pathNode.value as string).length) : undefined,
    keyUsage: readKeyUsage(extensions.get(OID.keyUsage)?.value),
    extKeyUsage: (() => {
      const eku = extensions.get(OID.extKeyUsage)?.value;
      return eku ? children(eku).map((node) => extKeyUsageName(readOid(node))) : [];
    })(),
  };
}

function readSubjectAltNames(node: Asn1 | undefined): SubjectAltNames {
  const dns: string[] = [];
  const ip: string[] = [];
  const uri: string[] = [];
  for (const name of node ? children(node) : []) {
    if (name.tagClass !== Class.CONTEXT_SPECIFIC) continue;
    const bytes = name.value as string;
    if (name.type === 2) dns.push(bytes);
    else if (name.type === 6) uri.push(fromBinary(bytes).toString('utf8'));
    else if (name.type === 7) ip.push(ipAddressFromBytes(fromBinary(bytes)));
  }
  return { dns, ip, uri };
}

function readKeyUsage(node: Asn1 | undefined): KeyUsage[] {
  if (!node) return [];
  const bytes = fromBinary((node.value as string).slice(1)); // first octet: unused bit count
  return KEY_USAGE_BITS.filter((_, bit) => bit < bytes.length * 8 && (bytes[bit >> 3]! & (0x80 >> (bit & 7))) !== 0);
}

function extKeyUsageName(oid: string): string {
  if (oid === OID.serverAuth) return 'serverAuth';
  if (oid === OID.clientAuth) return 'clientAuth';
  return oid;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value. */
export function keyIdentifierFromSpki(spkiDer: Buffer): Buffer {
  const spki = decode(spkiDer);
  const bits = children(spki)[1]!.value as string;
  return createHash('sha1').update(fromBinary(bits.slice(1))).digest();
}
